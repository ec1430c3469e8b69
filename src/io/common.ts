/**
 * What every port module shares, native or not: option checks at the edge (STYLE 7), transport
 * constants, and the mapping of socket errors to iro's errors (stable codes, exact fixes).
 */
import { ESP_ALIGN, ESP_ICV_LEN, ESP_TRAILER_LEN } from '../packet/constants.js';
import { Drop } from '../util/drop.js';
import { IroError, PrivilegeError } from '../util/errors.js';

/**
 * Bytes a Link leaves free after each packet it reads, so that ESP can append its trailer in
 * place: up to 3 pad bytes, pad length and next header (RFC 4303 §2.4), and the 16-byte ICV.
 */
export const LINK_TAILROOM = ESP_ALIGN - 1 + ESP_TRAILER_LEN + ESP_ICV_LEN;

/** Default socket buffer size: bursts of whole batches must not overflow the kernel's default. */
export const DEFAULT_SOCKET_BUFFER = 4 * 1024 * 1024;

/** Environment variable that turns the kernel offloads of the native ports off (value `0`),
 * e.g. to measure what they bring: TUN super-packets and coalesced writes, UDP GSO and GRO. */
export const OFFLOAD_ENV = 'IRO_OFFLOAD';

/** Whether native ports ask for kernel offloads when their options do not say: yes, unless
 * IRO_OFFLOAD=0. */
export function offloadByDefault(): boolean {
  return process.env[OFFLOAD_ENV] !== '0';
}

/** Status given to packets the kernel refused to send (PacketBatch: DropReason + 1). */
export const TX_ERROR_STATUS = Drop.TX_ERROR + 1;

export const UDP_FIX_LOW_PORT =
  'run as root or grant CAP_NET_BIND_SERVICE (in a container: --cap-add NET_BIND_SERVICE), or use a port above 1023';

/** `v` as an address family: TypeError / RangeError naming the field otherwise. */
export function aFamily(name: string, v: unknown): 4 | 6 {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number`);
  if (v !== 4 && v !== 6) throw new RangeError(`${name} must be 4 or 6, got ${v}`);
  return v;
}

/** The errno name ('EPERM', ...) of an error thrown by the addon or node:dgram, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** IroError ERR_IO wrapping a system error, with what was being done. */
export function ioError(what: string, err: unknown): IroError {
  const detail = err instanceof Error ? err.message : String(err);
  return new IroError('ERR_IO', `${what}: ${detail}`, { cause: err });
}

/**
 * The error to throw when binding a UDP socket failed; `where` names it ("UDP 192.0.2.1 port
 * 4500"). A taken port is often an IKE daemon holding 4500 with UDP_ENCAP set (PROTOCOL.md F.19).
 */
export function udpBindError(where: string, err: unknown): Error {
  switch (errnoCode(err)) {
    case 'EADDRINUSE':
      return ioError(`${where} is in use (an IKE daemon holding it must hand ESP over, or use another port)`, err);
    case 'EADDRNOTAVAIL':
      return ioError(`${where}: the address is not configured on this host`, err);
    case 'EACCES':
      return new PrivilegeError(`binding ${where} needs CAP_NET_BIND_SERVICE`, UDP_FIX_LOW_PORT, { cause: err });
    default:
      return ioError(`cannot open ${where}`, err);
  }
}

/**
 * Level-triggered readiness for ports whose data waits in a JS queue (io/dgram.ts,
 * io/memory.ts): `notify()` schedules one callback per event-loop turn while `pending()` holds,
 * so many arrivals in one turn cost one callback, and a reader that leaves data behind is
 * called again (call `notify()` after reading).
 */
export class ReadySignal {
  private readonly pending: () => boolean;
  private cb: (() => void) | null = null;
  private scheduled = false;
  private stopped = false;

  constructor(pending: () => boolean) {
    this.pending = pending;
  }

  /** Sets (replaces) the callback and fires it if data is already waiting. */
  set(cb: (() => void) | null): void {
    this.cb = cb;
    this.notify();
  }

  notify(): void {
    if (this.scheduled || this.stopped || !this.cb || !this.pending()) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.stopped && this.pending()) this.cb?.();
    });
  }

  stop(): void {
    this.stopped = true;
  }
}
