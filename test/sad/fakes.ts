/** Test helper (not a test file): fake crypto state for SAD tests, and a valid SaInit builder. */
import type { AeadContext, ReplayWindow, SuiteName } from '../../src/esp/types.js';
import type { SaInit, SeqCounter } from '../../src/sad/index.js';
import { TrafficSelector } from '../../src/spd/index.js';

/** An AeadContext that records destroy() and wipes a stand-in key. */
export class FakeAead implements AeadContext {
  readonly backend = 'node' as const;
  destroyed = 0;
  readonly key = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  constructor(
    readonly suite: SuiteName = 'aes128gcm16',
    readonly esn = true,
  ) {}
  seal(): void {}
  open(): boolean {
    return true;
  }
  destroy(): void {
    this.destroyed++;
    this.key.fill(0);
  }
}

export class FakeReplay implements ReplayWindow {
  readonly size = 1024;
  topHi = 0;
  topLo = 0;
  constructor(readonly esn = true) {}
  check(): number {
    return 0;
  }
  commit(hi: number, lo: number): void {
    this.topHi = hi;
    this.topLo = lo;
  }
}

export class FakeSeq implements SeqCounter {
  hi = 0;
  lo = 0;
  next(): boolean {
    this.lo = (this.lo + 1) >>> 0;
    if (this.lo === 0) this.hi++;
    return true;
  }
}

/** A valid inbound IRO transport SA between an MN (peer, HoA) and this HA; override anything. */
export function inboundInit(overrides: Partial<SaInit> = {}): SaInit {
  return {
    spi: 0x2001,
    direction: 'in',
    mode: 'transport',
    suite: 'aes128gcm16',
    esn: true,
    encapsulation: 'udp',
    identities: { local: '2001:db8:100::1', peer: '2001:db8:100::10' },
    selectors: new TrafficSelector({ local: ['2001:db8:100::1'], remote: ['2001:db8:100::10'] }),
    iro: true,
    peer: 'mn1',
    aead: new FakeAead(),
    replay: new FakeReplay(),
    ...overrides,
  };
}

/** The matching outbound SA. */
export function outboundInit(overrides: Partial<SaInit> = {}): SaInit {
  return {
    spi: 0x1001,
    direction: 'out',
    mode: 'transport',
    suite: 'aes128gcm16',
    esn: true,
    encapsulation: 'udp',
    identities: { local: '2001:db8:100::1', peer: '2001:db8:100::10' },
    selectors: new TrafficSelector({ local: ['2001:db8:100::1'], remote: ['2001:db8:100::10'] }),
    iro: true,
    peer: 'mn1',
    aead: new FakeAead(),
    seq: new FakeSeq(),
    ...overrides,
  };
}
