/**
 * The addon's offload code on crafted bytes (no TUN needed): super-packets as a TUN with TSO/USO
 * hands them over, cut into the segments the kernel itself would send (tcp_gso_segment /
 * __udp_gso_segment rules), partial checksums completed, and TCP segments coalesced into GSO
 * frames under the kernel's GRO rules, checked by splitting them back. Checksums are verified
 * with src/packet/l4checksum.ts, an implementation independent of the addon's.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { loadNative, loadNativeError, type NativeAddon } from '../../src/native/index.js';
import { PacketBatch } from '../../src/packet/batch.js';
import { IPPROTO_TCP, IPV4_MIN_HDR_LEN, IPV6_HDR_LEN, UDP_HDR_LEN } from '../../src/packet/constants.js';
import { verifyIpv4Checksum } from '../../src/packet/ipv4.js';
import { verifyPacketChecksum } from '../../src/packet/l4checksum.js';
import { bytesEqual, readU16, readU32, writeU16 } from '../../src/util/bytes.js';
import {
  A4,
  A6,
  B4,
  B6,
  decodeVnet,
  encodeVnet,
  gsoFrame,
  pattern,
  pseudoField,
  TCP_ACK,
  TCP_CWR,
  TCP_FIN,
  TCP_OFF_ACK,
  TCP_OFF_FLAGS,
  TCP_OFF_SEQ,
  TCP_PSH,
  tcpPacket,
  udpPacket,
  VNET_F_NEEDS_CSUM,
  VNET_GSO_NONE,
  VNET_GSO_TCPV4,
  VNET_GSO_TCPV6,
  VNET_HDR_LEN,
  type TcpSpec,
} from './craft.js';

const LAYOUT = { capacity: 256, slotSize: 2048, headroom: 64 };
const TAILROOM = 24;

function addon(): NativeAddon {
  const native = loadNative();
  assert.ok(native, `the addon must be built (node-gyp rebuild): ${String(loadNativeError())}`);
  return native;
}

/** Runs offloadSplit on `frame` into a fresh batch; returns the packets as copies. */
function split(frame: Uint8Array, tailroom = TAILROOM, layout = LAYOUT): Uint8Array[] {
  const b = new PacketBatch(layout);
  const n = addon().offloadSplit(frame, b.data, b.offset, b.length, b.slotSize, b.headroom, tailroom, b.capacity);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    assert.equal(b.offset[i], b.slotStart(i) + b.headroom, `packet ${i} sits at its slot's headroom`);
    out.push(b.packet(i).slice());
  }
  return out;
}

/** Runs offloadCoalesce over `packets` (status 0 unless `statuses` says otherwise). */
function coalesce(packets: Uint8Array[], statuses?: number[]): Uint8Array[] {
  const b = new PacketBatch(LAYOUT);
  for (const p of packets) b.push(p);
  statuses?.forEach((s, i) => (b.status[i] = s));
  const out = new Uint8Array(packets.length * 2048 + 65536);
  const outLength = new Uint32Array(packets.length);
  const n = addon().offloadCoalesce(b.data, b.offset, b.length, b.status, b.count, out, outLength);
  const frames: Uint8Array[] = [];
  let at = 0;
  for (let k = 0; k < n; k++) {
    frames.push(out.slice(at, at + outLength[k]!));
    at += outLength[k]!;
  }
  return frames;
}

/** The packets a frame stands for: its segments when it is a GSO frame, else the packet. */
function unpack(frame: Uint8Array): Uint8Array[] {
  const v = decodeVnet(frame);
  if (v.gsoType === VNET_GSO_NONE) {
    assert.equal(v.flags, 0, 'a single packet goes with a zero virtio header');
    return [frame.slice(VNET_HDR_LEN)];
  }
  return split(frame);
}

/** A run of `count` TCP segments of `mss` bytes (the last `last` bytes when given), seq from `seq0`. */
function run(base: Omit<TcpSpec, 'seq' | 'payload'>, seq0: number, count: number, mss: number, last = mss): Uint8Array[] {
  const out: Uint8Array[] = [];
  let seq = seq0;
  for (let i = 0; i < count; i++) {
    const len = i === count - 1 ? last : mss;
    out.push(tcpPacket({ ...base, seq, id: (base.id ?? 0) + i, payload: pattern(len, seq) }));
    seq = (seq + len) >>> 0;
  }
  return out;
}

const FAMILIES = [
  { name: 'IPv4', src: A4, dst: B4, iphl: IPV4_MIN_HDR_LEN, gsoType: VNET_GSO_TCPV4 },
  { name: 'IPv6', src: A6, dst: B6, iphl: IPV6_HDR_LEN, gsoType: VNET_GSO_TCPV6 },
] as const;

for (const f of FAMILIES) {
  test(`${f.name}: a TCP super-packet becomes the segments the kernel would have sent`, () => {
    const mss = 1400;
    const total = 5 * mss + 100;
    const seq0 = 0xfffff000; // the sequence numbers wrap inside the packet
    const id0 = 0xfffe; // so do IPv4 IDs
    const flags = TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR;
    const options = Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2); // NOP NOP timestamps
    const payload = pattern(total);
    const whole = tcpPacket({ src: f.src, dst: f.dst, sport: 40000, dport: 5201, seq: seq0, ack: 77, flags, payload, id: id0, options });
    const hlen = f.iphl + 20 + options.length;
    const segs = split(gsoFrame(whole, mss));
    assert.equal(segs.length, 6);
    segs.forEach((p, i) => {
      const len = i < 5 ? mss : 100;
      assert.equal(p.length, hlen + len, `length of segment ${i}`);
      if (f.name === 'IPv4') {
        assert.equal(readU16(p, 2), p.length);
        assert.equal(readU16(p, 4), (id0 + i) & 0xffff);
        assert.ok(verifyIpv4Checksum(p, 0), `IPv4 header checksum of segment ${i}`);
      } else {
        assert.equal(readU16(p, 4), p.length - IPV6_HDR_LEN);
      }
      assert.ok(bytesEqual(p.subarray(f.iphl + 20, hlen), options), 'options repeated');
      assert.equal(readU32(p, f.iphl + TCP_OFF_SEQ), (seq0 + i * mss) >>> 0);
      assert.equal(readU32(p, f.iphl + TCP_OFF_ACK), 77);
      const fl = p[f.iphl + TCP_OFF_FLAGS]!;
      assert.equal(fl & TCP_ACK, TCP_ACK);
      assert.equal(fl & TCP_CWR, i === 0 ? TCP_CWR : 0, 'CWR only on the first segment');
      assert.equal(fl & (TCP_PSH | TCP_FIN), i === 5 ? TCP_PSH | TCP_FIN : 0, 'PSH and FIN only on the last');
      assert.ok(verifyPacketChecksum(p, 0, p.length), `TCP checksum of segment ${i}`);
      assert.ok(bytesEqual(p.subarray(hlen), payload.subarray(i * mss, i * mss + len)), `payload of segment ${i}`);
    });
  });

  test(`${f.name}: a UDP super-packet (USO) is cut into datagrams with their own lengths and checksums`, () => {
    const mss = 1200;
    const payload = pattern(3 * mss + 7);
    const whole = udpPacket(f.src, f.dst, 4433, 443, payload);
    const segs = split(gsoFrame(whole, mss));
    assert.equal(segs.length, 4);
    segs.forEach((p, i) => {
      const len = i < 3 ? mss : 7;
      assert.equal(p.length, f.iphl + UDP_HDR_LEN + len);
      assert.equal(readU16(p, f.iphl + 4), UDP_HDR_LEN + len, 'UDP length');
      assert.ok(verifyPacketChecksum(p, 0, p.length), `UDP checksum of datagram ${i}`);
      assert.ok(bytesEqual(p.subarray(f.iphl + UDP_HDR_LEN), payload.subarray(i * mss, i * mss + len)));
    });
  });

  test(`${f.name}: a single packet whose checksum the kernel left partial gets it completed`, () => {
    for (const p of [
      tcpPacket({ src: f.src, dst: f.dst, sport: 1, dport: 2, seq: 9, ack: 0, flags: TCP_ACK, payload: pattern(333) }),
      udpPacket(f.src, f.dst, 3, 4, pattern(77)),
    ]) {
      const tcp = (f.name === 'IPv4' ? p[9] : p[6]) === IPPROTO_TCP;
      const field = f.iphl + (tcp ? 16 : 6);
      const partial = p.slice();
      writeU16(partial, field, pseudoField(partial, tcp ? IPPROTO_TCP : 17, p.length - f.iphl));
      assert.ok(!verifyPacketChecksum(partial, 0, partial.length));
      const vnet = encodeVnet({ flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: f.iphl, csumOffset: tcp ? 16 : 6 });
      const out = split(new Uint8Array([...vnet, ...partial]));
      assert.equal(out.length, 1);
      assert.ok(bytesEqual(out[0]!, p), 'the completed packet is the original');
    }
  });

  test(`${f.name}: consecutive segments of a flow coalesce into one GSO frame that splits back into them`, () => {
    const base = { src: f.src, dst: f.dst, sport: 5201, dport: 40000, ack: 1000, flags: TCP_ACK, id: 100 };
    const segs = run(base, 0xffffff00, 9, 1000, 500);
    // PSH on the last segment only, as a sender sets it.
    segs[8] = tcpPacket({ ...base, seq: readU32(segs[8]!, f.iphl + 4), id: 108, flags: TCP_ACK | TCP_PSH, payload: pattern(500, readU32(segs[8]!, f.iphl + 4)) });
    const frames = coalesce(segs);
    assert.equal(frames.length, 1);
    const v = decodeVnet(frames[0]!);
    assert.deepEqual(v, { flags: VNET_F_NEEDS_CSUM, gsoType: f.gsoType, hdrLen: f.iphl + 20, gsoSize: 1000, csumStart: f.iphl, csumOffset: 16 });
    const pkt = frames[0]!.subarray(VNET_HDR_LEN);
    assert.equal(pkt.length, f.iphl + 20 + 8 * 1000 + 500);
    if (f.name === 'IPv4') {
      assert.equal(readU16(pkt, 2), pkt.length);
      assert.ok(verifyIpv4Checksum(pkt, 0));
    } else {
      assert.equal(readU16(pkt, 4), pkt.length - IPV6_HDR_LEN);
    }
    assert.equal(pkt[f.iphl + TCP_OFF_FLAGS], TCP_ACK | TCP_PSH);
    assert.equal(readU16(pkt, f.iphl + 16), pseudoField(pkt, IPPROTO_TCP, pkt.length - f.iphl), 'partial checksum = pseudo-header sum');
    const back = split(frames[0]!);
    assert.equal(back.length, 9);
    back.forEach((p, i) => assert.ok(bytesEqual(p, segs[i]!), `segment ${i} comes back byte for byte`));
  });
}

test('coalescing never hides a segment whose checksum is wrong', () => {
  const base = { src: A4, dst: B4, sport: 5201, dport: 40000, ack: 1, flags: TCP_ACK };
  const segs = run(base, 1000, 7, 1000);
  segs[3]![IPV4_MIN_HDR_LEN + 20 + 10]! ^= 0xff; // payload corrupted after the checksum was made
  const frames = coalesce(segs);
  assert.deepEqual(
    frames.map((fr) => unpack(fr).length),
    [3, 1, 3],
  );
  assert.equal(decodeVnet(frames[1]!).gsoType, VNET_GSO_NONE);
  assert.ok(bytesEqual(frames[1]!.subarray(VNET_HDR_LEN), segs[3]!), 'the corrupt segment is written alone, as it came');
  // A corrupt IPv4 header checksum counts too.
  const segs2 = run(base, 1000, 4, 1000);
  segs2[1]![10]! ^= 0x01;
  assert.deepEqual(
    coalesce(segs2).map((fr) => unpack(fr).length),
    [1, 1, 2],
  );
});

test('what ends a run: gaps, other ack, window, TTL or options, PSH, a short segment, a pure ACK', () => {
  const base = { src: A6, dst: B6, sport: 5201, dport: 40000, ack: 1, flags: TCP_ACK };
  const mss = 800;
  const at = (i: number, over: Partial<TcpSpec> = {}, len = mss): Uint8Array =>
    tcpPacket({ ...base, seq: 5000 + i * mss, payload: pattern(len, i * mss), ...over });
  const shape = (packets: Uint8Array[]): number[] => coalesce(packets).map((fr) => unpack(fr).length);
  // A gap in sequence numbers.
  assert.deepEqual(shape([at(0), at(1), at(3), at(4)]), [2, 2]);
  // Another ack number, window, hop limit, or options.
  assert.deepEqual(shape([at(0), at(1), at(2, { ack: 2 }), at(3, { ack: 2 })]), [2, 2]);
  assert.deepEqual(shape([at(0), at(1, { window: 100 }), at(2, { window: 100 })]), [1, 2]);
  assert.deepEqual(shape([at(0), at(1, { ttl: 3 }), at(2, { ttl: 3 })]), [1, 2]);
  const ts = Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6);
  const ts2 = Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 6);
  assert.deepEqual(shape([at(0, { options: ts }), at(1, { options: ts }), at(2, { options: ts2 })]), [2, 1]);
  // PSH closes the run after its segment; a shorter segment too.
  assert.deepEqual(shape([at(0), at(1, { flags: TCP_ACK | TCP_PSH }), at(2), at(3)]), [2, 2]);
  assert.deepEqual(shape([at(0), at(1, {}, 300), tcpPacket({ ...base, seq: 5000 + mss + 300, payload: pattern(mss) })]), [2, 1]);
  // A larger segment cannot follow.
  assert.deepEqual(shape([at(0, {}, 500), tcpPacket({ ...base, seq: 5500, payload: pattern(mss) })]), [1, 1]);
  // A packet of the same flow that cannot join (a pure ACK, a FIN) keeps its place.
  const pureAck = tcpPacket({ ...base, seq: 5000 + 2 * mss, payload: new Uint8Array(0) });
  const frames = coalesce([at(0), at(1), pureAck, at(2), at(3)]);
  assert.deepEqual(
    frames.map((fr) => unpack(fr).length),
    [2, 1, 2],
  );
  assert.ok(bytesEqual(frames[1]!.subarray(VNET_HDR_LEN), pureAck));
  assert.deepEqual(shape([at(0), at(1), at(2, { flags: TCP_ACK | TCP_FIN })]), [2, 1]);
});

test('interleaved flows coalesce separately, in order; other packets and dropped ones keep out', () => {
  const x = run({ src: A4, dst: B4, sport: 1000, dport: 5201, ack: 1, flags: TCP_ACK }, 0, 4, 1000);
  const y = run({ src: A4, dst: B4, sport: 1001, dport: 5201, ack: 1, flags: TCP_ACK }, 777, 4, 1000);
  const u = udpPacket(A4, B4, 53, 53, pattern(40));
  const packets = [x[0]!, y[0]!, x[1]!, y[1]!, u, x[2]!, y[2]!, x[3]!, y[3]!];
  const frames = coalesce(packets);
  assert.equal(frames.length, 3);
  const [fx, fy, fu] = frames.map(unpack);
  assert.deepEqual(fx!.map((p) => readU16(p, 20)), [1000, 1000, 1000, 1000]);
  fx!.forEach((p, i) => assert.ok(bytesEqual(p, x[i]!)));
  fy!.forEach((p, i) => assert.ok(bytesEqual(p, y[i]!)));
  assert.ok(bytesEqual(fu![0]!, u));
  // Packets with a non-zero status are not written at all.
  const statuses = packets.map((_, i) => (i === 4 || i === 7 ? 3 : 0));
  const kept = coalesce(packets, statuses).map(unpack);
  assert.deepEqual(
    kept.map((ps) => ps.length),
    [3, 4],
  );
});

test('a coalesced frame stays within 64 segments and 64 KiB', () => {
  const base = { src: A4, dst: B4, sport: 7, dport: 8, ack: 1, flags: TCP_ACK };
  assert.deepEqual(
    coalesce(run(base, 0, 70, 500)).map((fr) => unpack(fr).length),
    [64, 6],
  );
  // 40 bytes of headers + 46 * 1400 = 64440 bytes; a 47th segment would pass 65535.
  assert.deepEqual(
    coalesce(run(base, 0, 60, 1400)).map((fr) => unpack(fr).length),
    [46, 14],
  );
});

test('unusable frames are refused, never delivered', () => {
  const whole = tcpPacket({ src: A4, dst: B4, sport: 1, dport: 2, seq: 0, ack: 0, flags: TCP_ACK, payload: pattern(4000) });
  const good = gsoFrame(whole, 1000);
  assert.equal(split(good).length, 4);
  const withVnet = (change: Partial<ReturnType<typeof decodeVnet>>): Uint8Array => {
    const f = good.slice();
    f.set(encodeVnet({ ...decodeVnet(good), ...change }), 0);
    return f;
  };
  assert.equal(split(withVnet({ gsoType: 3 })).length, 0, 'UFO (gso_type 3) is not asked for');
  assert.equal(split(withVnet({ gsoSize: 0 })).length, 0, 'gso_size 0');
  assert.equal(split(withVnet({ gsoType: VNET_GSO_TCPV6 })).length, 0, 'TCPV6 on an IPv4 packet');
  assert.equal(split(withVnet({ csumStart: 24 })).length, 0, 'csum_start not at the TCP header');
  assert.equal(split(withVnet({ csumOffset: 6 })).length, 0, 'csum_offset not at the TCP checksum');
  // Segments that do not fit a slot (room for 1000 bytes per packet, 1040 needed).
  assert.equal(split(good, LAYOUT.slotSize - LAYOUT.headroom - 1000).length, 0);
  // A partial checksum whose position lies outside the packet.
  const single = new Uint8Array([
    ...encodeVnet({ flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 20, csumOffset: 9999 }),
    ...whole,
  ]);
  assert.equal(split(single).length, 0);
});

test('a super-packet larger than the batch fills it and stops', () => {
  const whole = tcpPacket({ src: A4, dst: B4, sport: 1, dport: 2, seq: 0, ack: 0, flags: TCP_ACK, payload: pattern(10_000) });
  const small = { capacity: 4, slotSize: 2048, headroom: 64 };
  const segs = split(gsoFrame(whole, 1000), TAILROOM, small);
  assert.equal(segs.length, 4);
  segs.forEach((p, i) => assert.equal(readU32(p, 24), i * 1000));
});
