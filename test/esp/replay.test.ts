/**
 * The anti-replay window (src/esp/replay.ts): PROTOCOL.md E.3.4's ESN inference table (W = 64),
 * wireguard-go's 34 numbered cases and 6 bulk tests ported to RFC 4303 numbering, and random runs
 * against a reference model written from the RFC's rules as intervals rather than cases.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BitmapReplayWindow, REPLAY_REJECT, REPLAY_WINDOW_DEFAULT } from '../../src/esp/replay.js';
import { Rng } from '../helpers/rng.js';

const TWO32 = 0x100000000n;
const MAX64 = 0xffffffffffffffffn;
const MAX32 = 0xffffffffn;

function hiOf(n: bigint): number {
  return Number(n >> 32n);
}

function loOf(n: bigint): number {
  return Number(n & MAX32);
}

/**
 * The receiver's whole decision for a packet whose real sequence number is `n` (only its low 32
 * bits are on the wire): check, then, as the AEAD would, accept only when the inferred high bits
 * are n's (otherwise the AAD differs and the tag fails), then commit.
 */
function receive(w: BitmapReplayWindow, n: bigint): boolean {
  const hi = w.check(loOf(n));
  if (hi === REPLAY_REJECT || BigInt(hi) !== n >> 32n) return false;
  w.commit(hi, loOf(n));
  return true;
}

describe('RFC 4303 A2.2 ESN inference, PROTOCOL.md E.3.4 (W = 64)', () => {
  /** A W=64 ESN window brought to T = (1, tl) by authenticated packets. */
  function windowAt(tl: number): BitmapReplayWindow {
    const w = new BitmapReplayWindow({ size: 64, esn: true });
    assert.ok(receive(w, 0x80000000n));
    assert.ok(receive(w, TWO32 + 0x10n));
    if (tl !== 0x10) assert.ok(receive(w, TWO32 + BigInt(tl)));
    assert.equal(w.topHi, 1);
    assert.equal(w.topLo, tl);
    return w;
  }

  const rows: { th: number; tl: number; seql: number; kase: 'A' | 'B'; seqh: number; note: string }[] = [
    { th: 1, tl: 0x10, seql: 0xfffffff0, kase: 'B', seqh: 0, note: 'previous subspace, inside the window' },
    { th: 1, tl: 0x10, seql: 0x20, kase: 'B', seqh: 1, note: 'newer' },
    { th: 1, tl: 0x10, seql: 0x10, kase: 'B', seqh: REPLAY_REJECT, note: 'Seqh 1: equals T, always a replay' },
    { th: 1, tl: 0x1000, seql: 0xff0, kase: 'A', seqh: 1, note: 'inside the window' },
    { th: 1, tl: 0x1000, seql: 0xfc1, kase: 'A', seqh: 1, note: 'left edge' },
    { th: 1, tl: 0x1000, seql: 0xfc0, kase: 'A', seqh: 2, note: 'treated as the next subspace' },
    { th: 1, tl: 0x1000, seql: 0x5, kase: 'A', seqh: 2, note: 'next subspace' },
  ];
  for (const r of rows) {
    test(`Th=${r.th} Tl=0x${r.tl.toString(16)} Seql=0x${r.seql.toString(16)}: case ${r.kase}, ${r.note}`, () => {
      const w = windowAt(r.tl);
      assert.equal(w.check(r.seql), r.seqh);
      assert.equal(w.check(r.seql), r.seqh, 'check has no side effects');
    });
  }

  test('Th=0 Tl=0, Seql 0xffffffc1-0xffffffff: case B, Seqh -1 underflows and is rejected', () => {
    const w = new BitmapReplayWindow({ size: 64, esn: true });
    for (let s = 0xffffffc1; s <= 0xffffffff; s++) assert.equal(w.check(s), REPLAY_REJECT, `0x${s.toString(16)}`);
    assert.equal(w.check(0xffffffc0), 0, 'one below the underflow range is a new number of subspace 0');
  });

  test('wrap: T = (0, 0xffffffff) accepts (1, 0) and then still the late (0, 0xfffffffd)', () => {
    const w = new BitmapReplayWindow({ size: 64, esn: true });
    assert.ok(receive(w, 0x80000000n));
    assert.ok(receive(w, MAX32 - 1n));
    assert.ok(receive(w, MAX32));
    assert.equal(w.check(0), 1, 'wire seq 0 after a wrap is (1, 0) with ESN');
    w.commit(1, 0);
    assert.equal(w.topHi, 1);
    assert.equal(w.topLo, 0);
    assert.equal(w.check(0xfffffffd), 0, 'late packet of the previous subspace');
    assert.equal(w.check(0xffffffff), REPLAY_REJECT, 'already received');
  });

  test('overflow past 2^64 - 1 is rejected', () => {
    const w = new BitmapReplayWindow({ size: 64, esn: true, top: MAX64 });
    assert.equal(w.check(5), REPLAY_REJECT);
    assert.equal(w.check(0xffffffff), REPLAY_REJECT);
    assert.equal(w.check(0xfffffffe), REPLAY_REJECT, 'restored windows count everything as seen');
  });
});

describe('without ESN', () => {
  test('seq 0 is refused, 1 accepted, numbers never gain high bits', () => {
    const w = new BitmapReplayWindow({ size: 32 });
    assert.equal(w.check(0), REPLAY_REJECT);
    assert.equal(w.check(1), 0);
    assert.ok(receive(w, MAX32));
    assert.equal(w.check(0), REPLAY_REJECT);
    assert.equal(w.check(5), REPLAY_REJECT, 'left of the window; no wrap without ESN');
    assert.equal(w.check(0xffffffe0), 0);
    assert.equal(w.check(0xffffffdf), REPLAY_REJECT, 'exactly W behind');
  });

  test('a packet is committed only by commit(): checking alone never marks it', () => {
    const w = new BitmapReplayWindow();
    assert.equal(w.size, REPLAY_WINDOW_DEFAULT);
    for (let i = 0; i < 3; i++) assert.equal(w.check(7), 0);
    w.commit(0, 7);
    assert.equal(w.check(7), REPLAY_REJECT);
    assert.equal(w.check(6), 0);
  });
});

/**
 * wireguard-go replay/replay_test.go, ported: its counter starts at 0 and accepts T - n <= its
 * windowSize; RFC 4303 starts at 1 and accepts T - n < W. So the rows below are wireguard's
 * as written, every n is shifted by + 1 when run, and T_LIM (wireguard's windowSize + 1) is W.
 * Cases 25-34 test the end of the counter space: wireguard's limit RejectAfterMessages is R here,
 * R = 2^64 - 1, so that after the shift R + 1 = 2^64 is the first number past the ESN space; they
 * run on an ESN window restored 4W below the end.
 */
function wireguardCases(W: bigint): [bigint, boolean][] {
  const T_LIM = W;
  const R = MAX64;
  const rows: [bigint, boolean][] = [
    [0n, true], [1n, true], [1n, false], [9n, true], [8n, true], [7n, true], [7n, false],
    [T_LIM, true], [T_LIM - 1n, true], [T_LIM - 1n, false], [T_LIM - 2n, true], [2n, true], [2n, false],
    [T_LIM + 16n, true], [3n, false], [T_LIM + 16n, false], [T_LIM * 4n, true], [T_LIM * 4n - (T_LIM - 1n), true],
    [10n, false], [T_LIM * 4n - T_LIM, false], [T_LIM * 4n - (T_LIM + 1n), false], [T_LIM * 4n - (T_LIM - 2n), true],
    [T_LIM * 4n + 1n - T_LIM, false], [0n, false],
    [R, false], [R - 1n, true], [R, false], [R - 1n, false], [R - 2n, true], [R + 1n, false], [R + 2n, false],
    [R - 2n, false], [R - 3n, true], [0n, false],
  ];
  return rows.map(([n, ok]) => [n + 1n, ok]);
}

for (const size of [32, 64, 1024, 4096]) {
  describe(`wireguard-go cases, W = ${size}`, () => {
    const W = BigInt(size);
    test('34 numbered cases', () => {
      const cases = wireguardCases(W);
      let w = new BitmapReplayWindow({ size, esn: false });
      cases.forEach(([n, ok], i) => {
        if (i === 24) {
          // Case 25 on: the end of the 64-bit space (ESN), from a window restored 4W below it.
          w = new BitmapReplayWindow({ size, esn: true, top: MAX64 - 4n * W });
        }
        assert.equal(receive(w, n), ok, `case ${i + 1}: ${n}`);
      });
    });

    const bulk: [string, (w: BitmapReplayWindow) => void][] = [
      ['bulk 1', (w) => {
        for (let i = 1n; i <= W - 1n; i++) assert.ok(receive(w, i + 1n));
        assert.ok(receive(w, 1n));
        assert.equal(receive(w, 1n), false);
      }],
      ['bulk 2', (w) => {
        for (let i = 2n; i <= W; i++) assert.ok(receive(w, i + 1n));
        assert.ok(receive(w, 2n));
        assert.equal(receive(w, 1n), false);
      }],
      ['bulk 3', (w) => {
        for (let i = W; i > 0n; i--) assert.ok(receive(w, i + 1n), `${i + 1n}`);
      }],
      ['bulk 4', (w) => {
        for (let i = W + 1n; i > 1n; i--) assert.ok(receive(w, i + 1n));
        assert.equal(receive(w, 1n), false);
      }],
      ['bulk 5', (w) => {
        for (let i = W - 1n; i > 0n; i--) assert.ok(receive(w, i + 1n));
        assert.ok(receive(w, W + 1n));
        assert.equal(receive(w, 1n), false);
      }],
      ['bulk 6', (w) => {
        for (let i = W - 1n; i > 0n; i--) assert.ok(receive(w, i + 1n));
        assert.ok(receive(w, 1n));
        assert.ok(receive(w, W + 1n));
      }],
    ];
    for (const [name, run] of bulk) test(name, () => run(new BitmapReplayWindow({ size })));
  });
}

/**
 * Reference model from RFC 4303 §3.4.3 and A2.2 stated as intervals: a packet whose real number
 * is S is accepted iff S was never accepted, S >= 1, and S lies in [T - W + 1, T - W + 2^32]
 * with ESN (the 2^32 numbers its low bits can name, starting at the window's left edge) or
 * in [T - W + 1, 2^32 - 1] without ESN, where T is the highest accepted number (0 at first).
 */
class ReferenceWindow {
  private readonly accepted = new Set<bigint>();
  private top = 0n;

  constructor(
    private readonly w: bigint,
    private readonly esn: boolean,
  ) {}

  receive(s: bigint): boolean {
    const lo = this.top - this.w + 1n;
    const hi = this.esn ? this.top - this.w + TWO32 : MAX32;
    if (s < 1n || s > MAX64 || s < lo || s > hi || this.accepted.has(s)) return false;
    this.accepted.add(s);
    if (s > this.top) this.top = s;
    if (this.accepted.size > 4 * Number(this.w)) {
      for (const a of this.accepted) if (a < this.top - this.w) this.accepted.delete(a);
    }
    return true;
  }
}

function randomRun(size: number, esn: boolean, seed: number, steps: number): void {
  const rng = new Rng(seed);
  const W = BigInt(size);
  const w = new BitmapReplayWindow({ size, esn });
  const model = new ReferenceWindow(W, esn);
  const limit = esn ? MAX64 : MAX32;
  // Big jumps (up to 2^31 with ESN) carry ESN runs across some hundred high-bits boundaries.
  let sender = 0n;
  const emitted: bigint[] = [];
  let accepted = 0;
  for (let step = 0; step < steps; step++) {
    const r = rng.int(100);
    let s: bigint;
    if (r < 55) s = sender += 1n + BigInt(rng.int(3));
    else if (r < 70) s = sender - BigInt(rng.int(Math.floor(size * 1.5)));
    else if (r < 80) s = emitted[rng.int(emitted.length)] ?? 1n;
    else if (r < 88) s = sender += BigInt(rng.int(size * 4));
    else if (r < 92) s = sender += BigInt(esn ? rng.u32() >>> 1 : rng.int(1 << 16));
    else s = sender - W - BigInt(rng.int(1000));
    if (s < 0n) s = 0n;
    if (s > limit) s = limit;
    if (sender > limit) sender = limit;
    emitted.push(s);
    if (emitted.length > 256) emitted.shift();
    const lo = loOf(s);
    const first = w.check(lo);
    assert.equal(w.check(lo), first, 'check is free of side effects');
    const want = model.receive(s);
    const got = receive(w, s);
    if (got !== want) {
      assert.fail(`step ${step}: ${s} (hi ${hiOf(s)}, lo ${lo}) got ${got}, model says ${want}; top ${w.topHi}:${w.topLo}`);
    }
    if (got) accepted++;
  }
  assert.ok(accepted > steps / 3, `the run exercised acceptance (${accepted}/${steps})`);
  assert.ok(accepted < steps, 'the run exercised rejection');
}

describe('random runs against the reference model', () => {
  for (const size of [32, 64, 96, 1024, 4096]) {
    for (const esn of [false, true]) {
      test(`W = ${size}, esn = ${esn}`, () => randomRun(size, esn, size * 2 + (esn ? 1 : 0), 20000));
    }
  }
});

describe('options', () => {
  test('sizes: multiples of 32 from 32 to 65536; others refused with the field named', () => {
    for (const size of [32, 96, 4096, 65536]) assert.equal(new BitmapReplayWindow({ size }).size, size);
    for (const size of [0, 16, 31, 33, 1000, 65568]) assert.throws(() => new BitmapReplayWindow({ size }), /options\.size/);
    assert.throws(() => new BitmapReplayWindow({ size: 64.5 }), TypeError);
    assert.throws(() => new BitmapReplayWindow({ esn: 1 as unknown as boolean }), TypeError);
    assert.throws(() => new BitmapReplayWindow({ top: 2n ** 32n }), RangeError);
    assert.throws(() => new BitmapReplayWindow({ top: -1n, esn: true }), RangeError);
  });

  test('a restored top counts the whole window as received and accepts what follows', () => {
    const w = new BitmapReplayWindow({ size: 64, top: 1000n });
    assert.equal(w.top, 1000n);
    for (const s of [1000, 999, 937]) assert.equal(w.check(s), REPLAY_REJECT, `${s}`);
    assert.equal(w.check(936), REPLAY_REJECT, 'left of the window');
    assert.equal(w.check(1001), 0);
    assert.ok(receive(w, 1002n));
    assert.ok(receive(w, 1001n), 'between the restored top and a newer one');
  });
});
