/**
 * RFC 3948 demultiplexing (io/demux.ts): classification of every kind of datagram on the
 * encapsulation port, and in-place compaction of a batch that keeps each packet inside its slot.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { classifyEncap, demuxEncap, Encap, keepEsp, newTransportTally } from '../../src/io/demux.js';
import { PacketBatch } from '../../src/packet/batch.js';

const ESP = Uint8Array.of(0x00, 0x00, 0x10, 0x01, 0, 0, 0, 1, 0xaa, 0xbb);

test('classifyEncap follows RFC 3948 §2.2 and §2.3', () => {
  const cases: [number[], Encap][] = [
    [[0xff], Encap.KEEPALIVE],
    [[0xfe], Encap.MALFORMED],
    [[], Encap.MALFORMED],
    [[0, 0, 0, 0], Encap.IKE],
    [[0, 0, 0, 0, 0x12, 0x34], Encap.IKE],
    [[0xff, 0xff], Encap.MALFORMED],
    [[0, 0, 0, 1, 0, 0, 0], Encap.MALFORMED],
    [[0, 0, 0, 1, 0, 0, 0, 0], Encap.ESP],
    [[0xff, 0, 0, 0, 0, 0, 0, 1], Encap.ESP],
    [Array.from(ESP), Encap.ESP],
  ];
  for (const [bytes, kind] of cases) {
    // At a non-zero offset inside a larger buffer, as packets sit in a batch.
    const buf = new Uint8Array(bytes.length + 5).fill(0x77);
    buf.set(bytes, 3);
    assert.equal(classifyEncap(buf, 3, bytes.length), kind, `[${bytes.join(',')}]`);
  }
});

function filled(packets: Uint8Array[]): PacketBatch {
  const b = new PacketBatch({ capacity: 8, slotSize: 128, headroom: 16 });
  b.reset();
  packets.forEach((p, i) => {
    b.push(p);
    b.setAddress(i, Uint8Array.of(192, 0, 2, 10 + i), 4500 + i);
    b.setLocalAddress(i, Uint8Array.of(198, 51, 100, i));
    b.hopLimit[i] = 60 + i;
    b.status[i] = 9;
  });
  return b;
}

test('demuxEncap keeps ESP only, moves each kept packet into the next free slot, tallies the rest', () => {
  const esp2 = Uint8Array.of(0, 0, 0x20, 0x02, 0, 0, 0, 9);
  const b = filled([Uint8Array.of(0xff), ESP, Uint8Array.of(0, 0, 0, 0, 1), Uint8Array.of(1, 2), esp2]);
  const tally = newTransportTally();
  const n = demuxEncap(b, 5, tally);
  assert.equal(n, 2);
  assert.equal(b.count, 2);
  assert.deepEqual(tally, { keepalivesIn: 1, ikeIn: 1, malformedIn: 1 });
  assert.deepEqual(b.packet(0), ESP);
  assert.deepEqual(b.packet(1), esp2);
  for (let i = 0; i < 2; i++) {
    assert.ok(b.offset[i]! >= b.slotStart(i) + b.headroom && b.offset[i]! + b.length[i]! <= b.slotEnd(i), `slot ${i}`);
    assert.equal(b.status[i], 0);
    assert.equal(b.sa[i], -1);
  }
  // Metadata travelled with the packets (originally packets 1 and 4).
  assert.deepEqual(b.addressOf(0), Uint8Array.of(192, 0, 2, 11));
  assert.deepEqual(b.addressOf(1), Uint8Array.of(192, 0, 2, 14));
  assert.deepEqual([b.port[0], b.port[1]], [4501, 4504]);
  assert.deepEqual(Array.from(b.localAddr.subarray(16, 20)), [198, 51, 100, 4]);
  assert.deepEqual([b.hopLimit[0], b.hopLimit[1]], [61, 64]);
});

test('keepEsp (raw ESP) drops only packets too short for an ESP header', () => {
  const b = filled([Uint8Array.of(0xff), ESP, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0)]);
  const tally = newTransportTally();
  assert.equal(keepEsp(b, 3, tally), 2);
  assert.deepEqual(tally, { keepalivesIn: 0, ikeIn: 0, malformedIn: 1 });
  assert.deepEqual(b.packet(0), ESP);
  assert.deepEqual(b.packet(1), new Uint8Array(8));
});
