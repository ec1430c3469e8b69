/**
 * The in-process fakes (io/memory.ts) keep the real ports' contracts: batch placement, the RFC
 * 3948 demux and tallies, source selection, and short writes with onWritable under backpressure.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { memoryLinkPair, MemoryLink, memoryTransportPair, MemoryTransport } from '../../src/io/memory.js';
import { LINK_TAILROOM, TX_ERROR_STATUS } from '../../src/io/common.js';
import { PacketBatch } from '../../src/packet/batch.js';

const A = Uint8Array.of(192, 0, 2, 1);
const A2 = Uint8Array.of(192, 0, 2, 11);
const B = Uint8Array.of(192, 0, 2, 2);
const ESP = (spi: number): Uint8Array => Uint8Array.of(0, 0, spi >> 8, spi & 0xff, 0, 0, 0, 1, 0xee);

const layout = { capacity: 8, slotSize: 256, headroom: 64 };

function readable(t: { onReadable(cb: () => void): void }): Promise<void> {
  return new Promise((resolve) => t.onReadable(resolve));
}

test('a link pair carries packets both ways, at the headroom, copied', async () => {
  const [a, b] = memoryLinkPair();
  const out = new PacketBatch(layout);
  out.reset();
  out.push(Uint8Array.of(0x45, 1, 2, 3));
  out.push(Uint8Array.of(0x60, 4, 5));
  out.status[1] = 3;
  assert.equal(a.write(out), 1);
  out.data.fill(0);
  await readable(b);
  const inb = new PacketBatch(layout);
  assert.equal(b.read(inb), 1);
  assert.deepEqual(inb.packet(0), Uint8Array.of(0x45, 1, 2, 3));
  assert.equal(inb.offset[0], layout.headroom);
  assert.equal(b.read(inb), 0);
});

test('a lone link records writes and drops injected packets that leave no tailroom', () => {
  const link = new MemoryLink({ name: 'tun9' });
  const batch = new PacketBatch(layout);
  link.inject(new Uint8Array(layout.slotSize - layout.headroom - LINK_TAILROOM + 1));
  link.inject(Uint8Array.of(0x45));
  assert.equal(link.read(batch), 1);
  assert.equal(link.oversizeDropped, 1);
  assert.equal(link.write(batch), 1);
  assert.deepEqual(link.written, [Uint8Array.of(0x45)]);
});

test('a transport pair delivers ESP with addresses and ports, and demuxes keepalives and IKE', async () => {
  const [a, b] = memoryTransportPair({ family: 4, addresses: [A, A2], port: 4500 }, { family: 4, addresses: [B], port: 4501 });
  const out = new PacketBatch(layout);
  out.reset();
  for (const [spi, local] of [
    [0x1001, A],
    [0x1002, A2],
    [0x1003, new Uint8Array(0)],
  ] as const) {
    const i = out.push(ESP(spi));
    out.setAddress(i, B, 4501);
    out.setLocalAddress(i, local);
  }
  const ike = out.push(Uint8Array.of(0, 0, 0, 0, 0x11));
  out.setAddress(ike, B, 4501);
  const bad = out.push(ESP(0x1004));
  out.setAddress(bad, B, 4501);
  out.setLocalAddress(bad, Uint8Array.of(203, 0, 113, 1));
  assert.equal(a.write(out, 0), out.count);
  assert.equal(out.status[bad], TX_ERROR_STATUS);
  a.sendKeepalive(B, 4501);

  await readable(b);
  const inb = new PacketBatch(layout);
  assert.equal(b.read(inb), 3);
  assert.deepEqual(b.tally, { keepalivesIn: 1, ikeIn: 1, malformedIn: 0 });
  const sources = [A, A2, A];
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(inb.packet(i), ESP(0x1001 + i));
    assert.deepEqual(inb.addressOf(i), sources[i]);
    assert.equal(inb.port[i], 4500);
    assert.deepEqual(Array.from(inb.localAddr.subarray(16 * i, 16 * i + 4)), Array.from(B));
  }
});

test('datagrams for an address or port the peer lacks are lost and counted', () => {
  const [a, b] = memoryTransportPair({ family: 4, addresses: [A] }, { family: 4, addresses: [B] });
  const out = new PacketBatch(layout);
  out.reset();
  out.setAddress(out.push(ESP(0x2001)), A2, 4500);
  out.setAddress(out.push(ESP(0x2002)), B, 4999);
  assert.equal(a.write(out, 0), 2);
  assert.equal(a.undeliverable, 2);
  assert.equal(b.read(new PacketBatch(layout)), 0);
});

test('a full peer makes write stop short; onWritable fires once the peer has read', async () => {
  const [a, b] = memoryTransportPair({ family: 4, addresses: [A] }, { family: 4, addresses: [B], queueLimit: 3 });
  const out = new PacketBatch(layout);
  out.reset();
  for (let k = 0; k < 5; k++) out.setAddress(out.push(ESP(0x3000 + k)), B, 4500);
  assert.equal(a.write(out, 0), 3);
  const writable = new Promise<void>((resolve) => a.onWritable(resolve));
  const inb = new PacketBatch(layout);
  assert.equal(b.read(inb), 3);
  await writable;
  assert.equal(a.write(out, 3), 5);
  assert.equal(b.read(inb), 2);
  assert.deepEqual(inb.packet(1), ESP(0x3004));
});

test('raw ESP fakes have port 0, no keepalives, and drop runts as malformed', async () => {
  const [a, b] = memoryTransportPair(
    { kind: 'esp', family: 6, addresses: [new Uint8Array(16).fill(1)] },
    { kind: 'esp', family: 6, addresses: [new Uint8Array(16).fill(2)] },
  );
  assert.equal(a.port, 0);
  a.sendKeepalive(new Uint8Array(16).fill(2), 4500);
  b.deliver(Uint8Array.of(1, 2, 3), new Uint8Array(16).fill(1), 0);
  const out = new PacketBatch(layout);
  out.reset();
  out.setAddress(out.push(ESP(0x4001)), new Uint8Array(16).fill(2), 0);
  assert.equal(a.write(out, 0), 1);
  await readable(b);
  const inb = new PacketBatch(layout);
  assert.equal(b.read(inb), 1);
  assert.deepEqual(b.tally, { keepalivesIn: 0, ikeIn: 0, malformedIn: 1 });
  assert.equal(inb.port[0], 0);
  assert.equal(inb.family[0], 6);
});

test('fake constructors validate their options', () => {
  assert.throws(() => new MemoryTransport({ family: 5 as 4, addresses: [A] }), RangeError);
  assert.throws(() => new MemoryTransport({ family: 6, addresses: [A] }), RangeError);
  assert.throws(() => new MemoryTransport({ family: 4, addresses: [] }), TypeError);
  assert.throws(
    () => memoryTransportPair({ family: 4, addresses: [A] }, { kind: 'esp', family: 4, addresses: [B] }),
    RangeError,
  );
});
