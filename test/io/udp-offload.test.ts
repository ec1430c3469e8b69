/**
 * UdpTransport offloads: UDP GSO on send (runs of equal-sized packets to one peer leave as one
 * UDP_SEGMENT message) and UDP_GRO on receive (a coalesced buffer is split into one packet per
 * slot, what does not fit waiting for the next read). Over loopback, which keeps a GSO packet
 * whole up to the receiving socket, and between two namespaces whose link MTU is too small for
 * a run (the kernel refuses it and the packets go one by one). Needs root for the namespaces.
 */
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { openUdp, type UdpTransport } from '../../src/io/udp.js';
import { loadNative, type OffloadCounters } from '../../src/native/index.js';
import { PacketBatch } from '../../src/packet/batch.js';
import { parseIp } from '../../src/util/addr.js';
import { bytesEqual, writeU32 } from '../../src/util/bytes.js';
import type { RecvResult } from '../helpers/ns-agent.js';
import { HOSTS, Lab, nsRun, twoHosts } from '../helpers/netns.js';

const lab = new Lab();

after(async () => {
  await lab.cleanup();
});

/** An ESP-looking packet: SPI, sequence number, then `len` filler bytes. */
function esp(spi: number, seq: number, len: number): Uint8Array {
  const b = new Uint8Array(8 + len).fill(seq & 0xff);
  writeU32(b, 0, spi);
  writeU32(b, 4, seq);
  return b;
}

/** Reads `count` packets from `t` through its readable callback, `capacity` per batch. */
function receive(t: UdpTransport, count: number, capacity: number): Promise<{ packets: Uint8Array[]; ports: number[] }> {
  const batch = new PacketBatch({ capacity, slotSize: 2048, headroom: 64 });
  const packets: Uint8Array[] = [];
  const ports: number[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      t.onReadable(null);
      reject(new Error(`timed out with ${packets.length} of ${count} packets`));
    }, 10_000);
    t.onReadable(() => {
      const n = t.read(batch);
      for (let i = 0; i < n; i++) {
        packets.push(batch.packet(i).slice());
        ports.push(batch.port[i]!);
      }
      if (packets.length >= count) {
        clearTimeout(timer);
        t.onReadable(null);
        resolve({ packets, ports });
      }
    });
  });
}

function delta(a: OffloadCounters, b: OffloadCounters, key: keyof OffloadCounters): number {
  return b[key] - a[key];
}

for (const [family, address] of [
  [4, '127.0.0.1'],
  [6, '::1'],
] as const) {
  test(`IPv${family}: runs leave as GSO messages and arrive as the same packets, in order`, async () => {
    const native = loadNative()!;
    const a = openUdp({ family, address, port: 0, offload: true });
    const b = openUdp({ family, address, port: 0, offload: true });
    const c = openUdp({ family, address, port: 0, offload: true });
    try {
      assert.ok(a.gso && b.gro, 'this kernel has UDP GSO and GRO');
      // 100 packets of one size then a shorter one (one run), 20 of another size, and 5 to
      // another peer in the middle of them.
      const sizes = [...new Array(100).fill(1000), 500, ...new Array(20).fill(300)];
      const out = sizes.map((len, i) => esp(0x1000, i + 1, len));
      const toC = [0, 1, 2, 3, 4].map((i) => esp(0x2000, i + 1, 300));
      const batch = new PacketBatch({ capacity: 256, slotSize: 2048, headroom: 64 });
      const peer = parseIp(address)!;
      out.forEach((p, i) => {
        batch.setAddress(batch.push(p), peer, b.port);
        if (i === 110) for (const q of toC) batch.setAddress(batch.push(q), peer, c.port);
      });
      batch.localAddr.fill(0);
      const before = native.offloadCounters();
      const gotB = receive(b, out.length, 16);
      const gotC = receive(c, toC.length, 16);
      assert.equal(a.write(batch, 0), batch.count);
      assert.deepEqual([...batch.status.subarray(0, batch.count)], new Array(batch.count).fill(0));
      const sent = native.offloadCounters();
      // 101 packets in two runs (64 + 37), then 20 and 5: at least 4 messages carry several.
      assert.ok(delta(before, sent, 'udpGsoSends') >= 4, `GSO messages: ${delta(before, sent, 'udpGsoSends')}`);
      assert.equal(delta(before, sent, 'udpGsoSegments'), out.length + toC.length);
      const { packets, ports } = await gotB;
      assert.equal(packets.length, out.length);
      packets.forEach((p, i) => assert.ok(bytesEqual(p, out[i]!), `packet ${i}`));
      assert.ok(ports.every((p) => p === a.port));
      assert.ok(delta(before, native.offloadCounters(), 'udpGroReads') >= 1, 'coalesced buffers were received');
      const c5 = await gotC;
      c5.packets.forEach((p, i) => assert.ok(bytesEqual(p, toC[i]!)));
    } finally {
      await a.close();
      await b.close();
      await c.close();
    }
  });
}

test('without offloads nothing is grouped or coalesced', async () => {
  const native = loadNative()!;
  const a = openUdp({ family: 4, address: '127.0.0.1', port: 0, offload: false });
  const b = openUdp({ family: 4, address: '127.0.0.1', port: 0, offload: false });
  try {
    assert.equal(a.gso, false);
    assert.equal(b.gro, false);
    const out = Array.from({ length: 50 }, (_, i) => esp(0x3000, i + 1, 1000));
    const batch = new PacketBatch({ capacity: 64, slotSize: 2048, headroom: 64 });
    for (const p of out) batch.setAddress(batch.push(p), parseIp('127.0.0.1')!, b.port);
    batch.localAddr.fill(0);
    const before = native.offloadCounters();
    const got = receive(b, out.length, 64);
    assert.equal(a.write(batch, 0), out.length);
    const { packets } = await got;
    packets.forEach((p, i) => assert.ok(bytesEqual(p, out[i]!)));
    const after = native.offloadCounters();
    assert.equal(delta(before, after, 'udpGsoSends'), 0);
    assert.equal(delta(before, after, 'udpGroReads'), 0);
  } finally {
    await a.close();
    await b.close();
  }
});

test('a run the kernel refuses (segments above the path MTU) goes out one datagram at a time', async () => {
  const hosts = twoHosts(lab);
  // Each 1300-byte datagram needs IP fragmentation on a 1200-byte link, which UDP GSO cannot do
  // (udp_send_skb: EMSGSIZE); sent alone, the kernel fragments it.
  nsRun(hosts.nsA, 'ip', ['link', 'set', hosts.devA, 'mtu', '1200']);
  nsRun(hosts.nsB, 'ip', ['link', 'set', hosts.devB, 'mtu', '1200']);
  const agentA = await lab.agentIn(hosts.nsA);
  const agentB = await lab.agentIn(hosts.nsB);
  try {
    await agentA.call('open', { kind: 'udp', family: 4, port: 4500 });
    await agentB.call('open', { kind: 'udp', family: 4, port: 4500 });
    const out = Array.from({ length: 10 }, (_, i) => ({ hex: Buffer.from(esp(0x5000, i + 1, 1300)).toString('hex'), addr: HOSTS.b4, port: 4500 }));
    const sent = await agentA.call<{ status: number[] }>('send', { packets: out });
    assert.deepEqual(sent.status, new Array(out.length).fill(0));
    const got = await agentB.call<RecvResult>('recv', { count: out.length, timeoutMs: 5000 });
    assert.deepEqual(
      got.packets.map((p) => p.hex),
      out.map((p) => p.hex),
    );
  } finally {
    await agentA.stop();
    await agentB.stop();
  }
});
