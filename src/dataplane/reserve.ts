/**
 * The hot-path side of restart safety: a send reservation's limit kept as two u32 numbers, so
 * checking a sequence number against it is two comparisons, not a bigint operation per packet.
 * The durable write happens in `extend`, once per reservation step.
 */
import type { SendReservation } from './types.js';

const U32 = 0x100000000n;

export class ReservationGuard {
  private readonly reservation: SendReservation;
  private limitHi = 0;
  private limitLo = 0;

  constructor(reservation: SendReservation) {
    this.reservation = reservation;
    this.load();
  }

  private load(): void {
    const l = this.reservation.limit;
    this.limitHi = Number(l / U32);
    this.limitLo = Number(l % U32);
  }

  /** True when (hi, lo) is covered by the durable reservation. */
  covers(hi: number, lo: number): boolean {
    return hi < this.limitHi || (hi === this.limitHi && lo <= this.limitLo);
  }

  /** Makes the reservation cover (hi, lo) + `ahead` (a durable write). */
  extend(hi: number, lo: number, ahead: number): void {
    this.reservation.ensure(BigInt(hi) * U32 + BigInt(lo) + BigInt(ahead));
    this.load();
  }
}
