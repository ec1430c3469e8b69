/**
 * DgramTransport (node:dgram, the native-free back-end) between two network namespaces, against
 * the native UdpTransport on the other side: one socket per local address gives source
 * selection and the local destination; the RFC 3948 demux is the same. Needs root.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { openDgram } from '../../src/io/dgram.js';
import { IroError } from '../../src/util/errors.js';
import type { RecvResult, WirePacket } from '../helpers/ns-agent.js';
import { HOSTS, Lab, twoHosts } from '../helpers/netns.js';

const lab = new Lab();
let hosts: ReturnType<typeof twoHosts>;

before(() => {
  hosts = twoHosts(lab);
});

after(async () => {
  await lab.cleanup();
});

function esp(spi: number, seq: number, len: number): string {
  const b = Buffer.alloc(8 + len, 0x3c);
  b.writeUInt32BE(spi, 0);
  b.writeUInt32BE(seq, 4);
  return b.toString('hex');
}

for (const family of [4, 6] as const) {
  const [a1, a2, b] = family === 4 ? [HOSTS.a4, HOSTS.a4b, HOSTS.b4] : [HOSTS.a6, HOSTS.a6b, HOSTS.b6];

  test(`IPv${family}: dgram sockets per address interoperate with the native transport`, async () => {
    const agentA = await lab.agentIn(hosts.nsA);
    const agentB = await lab.agentIn(hosts.nsB);
    try {
      assert.deepEqual(await agentA.call('open', { kind: 'dgram', family, addresses: [a1, a2], port: 4500 }), { port: 4500 });
      await agentB.call('open', { kind: 'udp', family, port: 4500 });
      const n = 30;
      const out: WirePacket[] = Array.from({ length: n }, (_, i) => ({
        hex: esp(0x7000 + i, i + 1, 200),
        addr: b,
        port: 4500,
        local: i % 2 === 0 ? a1 : a2,
      }));
      assert.deepEqual((await agentA.call<{ status: number[] }>('send', { packets: out })).status, new Array(n).fill(0));
      const got = await agentB.call<RecvResult>('recv', { count: n, timeoutMs: 5000 });
      assert.equal(got.packets.length, n);
      const bySpi = new Map(got.packets.map((p) => [p.hex, p]));
      for (const o of out) assert.equal(bySpi.get(o.hex)?.addr, o.local);

      await agentB.call('keepalive', { addr: a2, port: 4500 });
      const replies = got.packets.map((p) => ({ hex: p.hex, addr: p.addr, port: p.port, local: p.local }));
      await agentB.call('send', { packets: replies });
      const back = await agentA.call<RecvResult>('recv', { count: n, timeoutMs: 5000 });
      assert.equal(back.packets.length, n);
      for (const p of back.packets) {
        assert.equal(p.addr, b);
        assert.equal(p.port, 4500);
        assert.equal(p.family, family);
        assert.equal(p.local, out.find((o) => o.hex === p.hex)!.local, 'reported destination is the receiving socket');
      }
      assert.deepEqual(back.tally, { keepalivesIn: 1, ikeIn: 0, malformedIn: 0 });
    } finally {
      await agentA.stop();
      await agentB.stop();
    }
  });
}

test('a packet from an address no socket is bound to is marked; a bad address list throws', async () => {
  const agentA = await lab.agentIn(hosts.nsA);
  try {
    await agentA.call('open', { kind: 'dgram', family: 4, addresses: [HOSTS.a4], port: 0 });
    const sent = await agentA.call<{ status: number[] }>('send', {
      packets: [
        { hex: esp(0x7100, 1, 8), addr: HOSTS.b4, port: 4500, local: HOSTS.a4b },
        { hex: esp(0x7101, 2, 8), addr: HOSTS.b4, port: 4500, local: HOSTS.a4 },
      ],
    });
    assert.notEqual(sent.status[0], 0);
    assert.equal(sent.status[1], 0);
  } finally {
    await agentA.stop();
  }
  await assert.rejects(openDgram({ family: 4, addresses: ['2001:db8::1'] }), RangeError);
  await assert.rejects(openDgram({ family: 4, addresses: [] }), TypeError);
  // An address this (root) namespace does not have: EADDRNOTAVAIL, mapped to ERR_IO.
  await assert.rejects(openDgram({ family: 4, addresses: ['203.0.113.77'], port: 0 }), (err: unknown) => {
    return err instanceof IroError && err.code === 'ERR_IO' && (err.cause as { code?: string }).code === 'EADDRNOTAVAIL';
  });
});
