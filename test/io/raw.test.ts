/**
 * RawTransport (raw IP protocol 50) between two network namespaces in IPv4 and IPv6: the ESP
 * bytes arrive without any IP header, with source, destination and outer hop limit, from the
 * source address chosen per packet; replies go back the same way. Needs root.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { RecvResult, WirePacket } from '../helpers/ns-agent.js';
import { HOSTS, Lab, twoHosts } from '../helpers/netns.js';

/** Linux's default TTL / hop limit (net.ipv4.ip_default_ttl, net.ipv6.conf.*.hop_limit). */
const DEFAULT_HOP_LIMIT = 64;

const lab = new Lab();
let hosts: ReturnType<typeof twoHosts>;

before(() => {
  hosts = twoHosts(lab);
});

after(async () => {
  await lab.cleanup();
});

function esp(spi: number, seq: number, len: number): string {
  const b = Buffer.alloc(8 + len, 0x5a);
  b.writeUInt32BE(spi, 0);
  b.writeUInt32BE(seq, 4);
  return b.toString('hex');
}

for (const family of [4, 6] as const) {
  const [a1, a2, b] = family === 4 ? [HOSTS.a4, HOSTS.a4b, HOSTS.b4] : [HOSTS.a6, HOSTS.a6b, HOSTS.b6];

  test(`IPv${family}: raw ESP crosses with its chosen sources and comes back`, async () => {
    const agentA = await lab.agentIn(hosts.nsA);
    const agentB = await lab.agentIn(hosts.nsB);
    try {
      assert.deepEqual(await agentA.call('open', { kind: 'raw', family }), { port: 0 });
      await agentB.call('open', { kind: 'raw', family });
      const n = 24;
      const out: WirePacket[] = Array.from({ length: n }, (_, i) => ({
        hex: esp(0x5000 + i, i + 1, 60 + 10 * i),
        addr: b,
        local: i % 3 === 0 ? a2 : a1,
      }));
      const sent = await agentA.call<{ status: number[] }>('send', { packets: out });
      assert.deepEqual(sent.status, new Array(n).fill(0));
      const got = await agentB.call<RecvResult>('recv', { count: n, timeoutMs: 5000 });
      assert.equal(got.packets.length, n);
      got.packets.forEach((p, i) => {
        assert.equal(p.hex, out[i]!.hex, `packet ${i} starts at the SPI`);
        assert.equal(p.addr, out[i]!.local);
        assert.equal(p.local, b);
        assert.equal(p.family, family);
        assert.equal(p.port, 0);
        assert.equal(p.hopLimit, DEFAULT_HOP_LIMIT);
      });
      const replies = got.packets.map((p) => ({ hex: p.hex, addr: p.addr, local: p.local }));
      await agentB.call('send', { packets: replies });
      const back = await agentA.call<RecvResult>('recv', { count: n, timeoutMs: 5000 });
      assert.equal(back.packets.length, n);
      back.packets.forEach((p, i) => {
        assert.equal(p.hex, out[i]!.hex);
        assert.equal(p.addr, b);
        assert.equal(p.local, out[i]!.local);
      });
    } finally {
      await agentA.stop();
      await agentB.stop();
    }
  });
}

test('a packet the kernel refuses (source not local) is marked, the rest still go', async () => {
  const agentA = await lab.agentIn(hosts.nsA);
  const agentB = await lab.agentIn(hosts.nsB);
  try {
    await agentA.call('open', { kind: 'raw', family: 4 });
    await agentB.call('open', { kind: 'raw', family: 4 });
    const sent = await agentA.call<{ status: number[] }>('send', {
      packets: [
        { hex: esp(0x6001, 1, 8), addr: HOSTS.b4 },
        { hex: esp(0x6002, 2, 8), addr: HOSTS.b4, local: '203.0.113.9' },
        { hex: esp(0x6003, 3, 8), addr: HOSTS.b4 },
      ],
    });
    assert.equal(sent.status[0], 0);
    assert.notEqual(sent.status[1], 0);
    assert.equal(sent.status[2], 0);
    const got = await agentB.call<RecvResult>('recv', { count: 2, timeoutMs: 5000 });
    assert.deepEqual(
      got.packets.map((p) => p.hex),
      [esp(0x6001, 1, 8), esp(0x6003, 3, 8)],
    );
  } finally {
    await agentA.stop();
    await agentB.stop();
  }
});
