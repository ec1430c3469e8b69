/**
 * UdpTransport (native recvmmsg/sendmmsg) between two network namespaces: round trips in IPv4
 * and IPv6 with per-packet source selection (two addresses on one interface) and the reported
 * local destination, the RFC 3948 demux on real sockets, the UDP checksum on the wire (zero
 * over IPv4, computed over IPv6, seen by tcpdump), and short writes when the socket is full.
 * Needs root and tcpdump.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IPPROTO_UDP, IPV4_OFF_PROTO, IPV6_HDR_LEN, IPV6_OFF_NEXT_HDR, UDP_OFF_CHECKSUM } from '../../src/packet/constants.js';
import { readU16 } from '../../src/util/bytes.js';
import type { RecvResult, WirePacket } from '../helpers/ns-agent.js';
import { AgentError, HOSTS, Lab, nsRun, run, twoHosts } from '../helpers/netns.js';
import { readPcapIpPackets } from '../helpers/pcap.js';

const lab = new Lab();
let hosts: ReturnType<typeof twoHosts>;

before(() => {
  hosts = twoHosts(lab);
});

after(async () => {
  await lab.cleanup();
});

/** An ESP-looking payload: SPI, sequence number, then `len` filler bytes. */
function esp(spi: number, seq: number, len: number): string {
  const b = Buffer.alloc(8 + len, seq & 0xff);
  b.writeUInt32BE(spi, 0);
  b.writeUInt32BE(seq, 4);
  return b.toString('hex');
}

interface SendResult {
  status: number[];
  writes: number[];
}

for (const family of [4, 6] as const) {
  const [a1, a2, b] = family === 4 ? [HOSTS.a4, HOSTS.a4b, HOSTS.b4] : [HOSTS.a6, HOSTS.a6b, HOSTS.b6];

  test(`IPv${family}: a batch crosses with its chosen sources, and the replies come back to them`, async () => {
    const agentA = await lab.agentIn(hosts.nsA);
    const agentB = await lab.agentIn(hosts.nsB);
    try {
      await agentA.call('open', { kind: 'udp', family, port: 4500 });
      await agentB.call('open', { kind: 'udp', family, port: 4500 });
      const n = 40;
      const out: WirePacket[] = Array.from({ length: n }, (_, i) => ({
        hex: esp(0x1000 + i, i + 1, 100 + i),
        addr: b,
        port: 4500,
        local: i % 2 === 0 ? a1 : a2,
      }));
      const sent = await agentA.call<SendResult>('send', { packets: out });
      assert.deepEqual(sent.status, new Array(n).fill(0));
      assert.deepEqual(sent.writes, [n]);

      const got = await agentB.call<RecvResult>('recv', { count: n, timeoutMs: 5000 });
      assert.equal(got.packets.length, n);
      assert.equal(got.batches.reduce((x, y) => x + y, 0), n);
      got.packets.forEach((p, i) => {
        assert.equal(p.hex, out[i]!.hex, `packet ${i}`);
        assert.equal(p.addr, out[i]!.local, `source of packet ${i}`);
        assert.equal(p.port, 4500);
        assert.equal(p.family, family);
        assert.equal(p.local, b, `destination of packet ${i}`);
      });

      // B answers each packet from the address it arrived on, to where it came from.
      const replies = got.packets.map((p) => ({ hex: p.hex, addr: p.addr, port: p.port, local: p.local }));
      assert.deepEqual((await agentB.call<SendResult>('send', { packets: replies })).status, new Array(n).fill(0));
      const back = await agentA.call<RecvResult>('recv', { count: n, timeoutMs: 5000 });
      assert.equal(back.packets.length, n);
      back.packets.forEach((p, i) => {
        assert.equal(p.hex, out[i]!.hex);
        assert.equal(p.addr, b);
        assert.equal(p.port, 4500);
        assert.equal(p.local, out[i]!.local, `reply ${i} reached the address it was sent from`);
      });
    } finally {
      await agentA.stop();
      await agentB.stop();
    }
  });
}

test('keepalives, IKE and runts are tallied by the receiver, never returned as ESP', async () => {
  const agentA = await lab.agentIn(hosts.nsA);
  const agentB = await lab.agentIn(hosts.nsB);
  try {
    await agentA.call('open', { kind: 'udp', family: 4, port: 4500 });
    await agentB.call('open', { kind: 'udp', family: 4, port: 4500 });
    await agentA.call('keepalive', { addr: HOSTS.b4, port: 4500, local: HOSTS.a4b });
    const last = esp(0x2001, 1, 16);
    const sent = await agentA.call<SendResult>('send', {
      packets: [
        { hex: '00000000' + '11'.repeat(28), addr: HOSTS.b4, port: 4500 },
        { hex: 'fe', addr: HOSTS.b4, port: 4500 },
        { hex: '0000100100', addr: HOSTS.b4, port: 4500 },
        { hex: last, addr: HOSTS.b4, port: 4500 },
      ],
    });
    assert.deepEqual(sent.status, [0, 0, 0, 0]);
    const got = await agentB.call<RecvResult>('recv', { count: 1, timeoutMs: 5000 });
    assert.deepEqual(
      got.packets.map((p) => p.hex),
      [last],
    );
    assert.deepEqual(got.tally, { keepalivesIn: 1, ikeIn: 1, malformedIn: 2 });
  } finally {
    await agentA.stop();
    await agentB.stop();
  }
});

test('the UDP checksum is zero over IPv4 (RFC 3948 §3.1.2) and computed over IPv6', async () => {
  run('tcpdump', ['--version']);
  const dir = mkdtempSync(join(tmpdir(), 'iro-udp-'));
  const file = join(dir, 'cap.pcap');
  const tcpdump = ['tcpdump', '-i', hosts.devB, '-U', '-n', '-c', '2', '-w', file, 'udp port 4500'];
  const dump = spawn('ip', ['netns', 'exec', hosts.nsB, ...tcpdump]);
  const killTimer = setTimeout(() => dump.kill('SIGKILL'), 15_000);
  const agents = [await lab.agentIn(hosts.nsA), await lab.agentIn(hosts.nsA)];
  try {
    await new Promise<void>((resolve, reject) => {
      let err = '';
      dump.stderr.setEncoding('utf8').on('data', (s: string) => {
        err += s;
        if (err.includes('listening on')) resolve();
      });
      dump.once('exit', () => reject(new Error(`tcpdump exited: ${err}`)));
    });
    await agents[0]!.call('open', { kind: 'udp', family: 4, port: 4500 });
    await agents[1]!.call('open', { kind: 'udp', family: 6, port: 4500 });
    await agents[0]!.call('send', { packets: [{ hex: esp(0x3001, 1, 32), addr: HOSTS.b4, port: 4500 }] });
    await agents[1]!.call('send', { packets: [{ hex: esp(0x3002, 1, 32), addr: HOSTS.b6, port: 4500 }] });
    const code = await new Promise<number | null>((resolve) => dump.on('exit', resolve));
    assert.equal(code, 0);
    const packets = readPcapIpPackets(file);
    const v4 = packets.find((p) => p[0]! >> 4 === 4 && p[IPV4_OFF_PROTO] === IPPROTO_UDP);
    const v6 = packets.find((p) => p[0]! >> 4 === 6 && p[IPV6_OFF_NEXT_HDR] === IPPROTO_UDP);
    assert.ok(v4 && v6, 'both datagrams captured');
    assert.equal(readU16(v4, (v4[0]! & 0x0f) * 4 + UDP_OFF_CHECKSUM), 0);
    assert.notEqual(readU16(v6, IPV6_HDR_LEN + UDP_OFF_CHECKSUM), 0);
  } finally {
    clearTimeout(killTimer);
    dump.kill('SIGKILL');
    for (const a of agents) await a.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a full socket makes write stop short; onWritable brings the rest out', async () => {
  // Packets to an address nobody answers wait in the neighbour queue, still charged to the
  // socket's send buffer; resolution fails after one 100 ms probe and frees them.
  nsRun(hosts.nsA, 'sysctl', ['-q', '-w', `net.ipv4.neigh.${hosts.devA}.mcast_solicit=1`]);
  nsRun(hosts.nsA, 'sysctl', ['-q', '-w', `net.ipv4.neigh.${hosts.devA}.retrans_time_ms=100`]);
  const agentA = await lab.agentIn(hosts.nsA);
  try {
    await agentA.call('open', { kind: 'udp', family: 4, port: 4500, sndbuf: 4096 });
    // Three sizes: with UDP GSO each size is one message, bigger than the whole buffer.
    const n = 48;
    const size = (i: number): number => 1200 + 100 * Math.floor(i / 16);
    const packets = Array.from({ length: n }, (_, i) => ({ hex: esp(0x4000 + i, i + 1, size(i)), addr: HOSTS.none4, port: 4500 }));
    const sent = await agentA.call<SendResult>('send', { packets }, 30_000);
    assert.ok(sent.writes.length > 1, `expected a short write, got ${JSON.stringify(sent.writes)}`);
    assert.ok(sent.writes[0]! > 0 && sent.writes[0]! < n);
    assert.equal(sent.writes[sent.writes.length - 1], n);
    for (let k = 1; k < sent.writes.length; k++) assert.ok(sent.writes[k]! >= sent.writes[k - 1]!);
  } finally {
    await agentA.stop();
  }
});

test('a port already bound fails with ERR_IO naming the port (no silent sharing)', async () => {
  const first = await lab.agentIn(hosts.nsB);
  const second = await lab.agentIn(hosts.nsB);
  try {
    await first.call('open', { kind: 'udp', family: 4, port: 4500 });
    await assert.rejects(second.call('open', { kind: 'udp', family: 4, port: 4500 }), (err: unknown) => {
      assert.ok(err instanceof AgentError);
      assert.equal(err.code, 'ERR_IO');
      assert.match(err.message, /port 4500 is in use/);
      return true;
    });
  } finally {
    await first.stop();
    await second.stop();
  }
});
