/**
 * The retransmission schedule of one destination (RFC 6275 §11.8): a message unanswered after the
 * current timeout is sent again and the timeout doubles, up to MAX_BINDACK_TIMEOUT; and never more
 * than MAX_UPDATE_RATE messages in any one-second window to that destination, a send that would
 * exceed it being deferred instead of dropped. Pure bookkeeping on caller-supplied times; the
 * owner decides what to send when `due()` says so.
 */

import {
  INITIAL_BINDACK_TIMEOUT_MS,
  MAX_BINDACK_TIMEOUT_MS,
  MAX_UPDATE_RATE,
  UPDATE_RATE_WINDOW_MS,
} from './constants.js';

export type Due = 'send' | 'timeout' | null;

export class Retransmitter {
  private timeout = INITIAL_BINDACK_TIMEOUT_MS;
  /** Times of the last MAX_UPDATE_RATE sends, oldest first; kept across exchanges. */
  private readonly sends: number[] = [];
  /** When the wait for an answer to the last send ends; null when not waiting. */
  private retransmitAt: number | null = null;
  /** When a send held back by the rate limit may go; null when none is held. */
  private deferredUntil: number | null = null;

  /** The wait after the next send. */
  get timeoutMs(): number {
    return this.timeout;
  }

  /** Starts a new exchange: the first wait is `initialMs`; pending timers are dropped. */
  reset(initialMs: number): void {
    this.timeout = initialMs;
    this.retransmitAt = null;
    this.deferredUntil = null;
  }

  /**
   * Asks to send at `now`. Returns true when the rate limit allows it: the send is recorded and
   * the answer awaited for the current timeout. Otherwise returns false and defers the send to
   * the first moment the rate limit allows (`due()` then says 'send').
   */
  trySend(now: number): boolean {
    const earliest = this.sends.length < MAX_UPDATE_RATE ? now : this.sends[0]! + UPDATE_RATE_WINDOW_MS;
    if (earliest > now) {
      this.deferredUntil = earliest;
      this.retransmitAt = null;
      return false;
    }
    this.sends.push(now);
    if (this.sends.length > MAX_UPDATE_RATE) this.sends.shift();
    this.deferredUntil = null;
    this.retransmitAt = now + this.timeout;
    return true;
  }

  /** Doubles the timeout, capped at MAX_BINDACK_TIMEOUT (RFC 6275 §11.8). */
  backoff(): void {
    this.timeout = Math.min(this.timeout * 2, MAX_BINDACK_TIMEOUT_MS);
  }

  /** Waits the current timeout from `now` without sending (after a refusal). */
  hold(now: number): void {
    this.deferredUntil = null;
    this.retransmitAt = now + this.timeout;
  }

  /** Forgets pending timers (the rate-limit history stays: it is per destination). */
  stop(): void {
    this.retransmitAt = null;
    this.deferredUntil = null;
  }

  /** 'send' when a deferred send may go, 'timeout' when the wait for an answer is over. */
  due(now: number): Due {
    if (this.deferredUntil !== null && now >= this.deferredUntil) return 'send';
    if (this.retransmitAt !== null && now >= this.retransmitAt) return 'timeout';
    return null;
  }

  /** The next time `due()` changes, or null. */
  deadline(): number | null {
    return this.deferredUntil ?? this.retransmitAt;
  }
}
