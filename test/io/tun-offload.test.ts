/**
 * TunLink offloads against the real kernel: a TUN opened with offloads in a fresh namespace, a
 * TCP client in the namespace talking to a peer address routed into the TUN, and this test
 * playing that peer with crafted packets. The client's first flight reaches the TUN as a TSO
 * super-packet, which must come out of TunLink.read as valid MSS-sized segments; segments the
 * test writes back must go in as one coalesced GSO write that the client's stack accepts, while
 * a segment with a bad checksum must still be dropped by the kernel. Needs root.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { openTun, type TunLink } from '../../src/io/tun.js';
import { loadNative, type OffloadCounters } from '../../src/native/index.js';
import { PacketBatch } from '../../src/packet/batch.js';
import { IPV4_MIN_HDR_LEN, IPV6_HDR_LEN } from '../../src/packet/constants.js';
import { verifyPacketChecksum } from '../../src/packet/l4checksum.js';
import { parseIp } from '../../src/util/addr.js';
import { readU16, readU32 } from '../../src/util/bytes.js';
import { ip, Lab, nsRun, uniqueName } from '../helpers/netns.js';
import { pattern, TCP_ACK, TCP_OFF_FLAGS, TCP_OFF_SEQ, TCP_PSH, TCP_SYN, tcpPacket } from '../native/craft.js';

const LAYOUT = { capacity: 64, slotSize: 2048, headroom: 64 };
const SERVER_PORT = 5201;
const MSS = 1400;
/** What the client sends at once: within its initial window (10 segments), so no ACK is needed. */
const CLIENT_BYTES = 12_000;
const OUR_SEGMENT = 1000;

const lab = new Lab();
let ns = '';
let link: TunLink | null = null;

before(() => {
  ns = lab.netns('o');
  link = openTun({ name: uniqueName('off'), offload: true });
  lab.trackRootLink(link.name);
  // The queue stays open while the interface moves: the fd follows it into the namespace.
  ip('link', 'set', link.name, 'netns', ns);
  lab.address(ns, link.name, '192.0.2.1/24');
  lab.address(ns, link.name, '2001:db8:1::1/64');
  nsRun(ns, 'ip', ['link', 'set', link.name, 'up']);
});

after(async () => {
  await link?.close();
  await lab.cleanup();
});

/** The client: connects, sends `send` bytes of pattern(), prints {n, sha} of what it received
 * once `expect` bytes arrived and nothing more came for a moment (or after 15 s). */
const CLIENT = `
const net = require('node:net');
const { createHash } = require('node:crypto');
const [host, port, send, expect] = process.argv.slice(1);
const got = [];
let n = 0, timer;
const done = () => {
  const all = Buffer.concat(got);
  console.log(JSON.stringify({ n, sha: createHash('sha256').update(all).digest('hex') }));
  process.exit(0);
};
const s = net.connect({ host, port: +port });
s.on('connect', () => { const b = Buffer.alloc(+send); for (let i = 0; i < b.length; i++) b[i] = i % 251; s.write(b); });
s.on('data', (d) => { got.push(d); n += d.length; if (n >= +expect) { clearTimeout(timer); timer = setTimeout(done, 300); } });
s.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
setTimeout(done, 15000);
`;

interface Tcp {
  seq: number;
  ack: number;
  flags: number;
  sport: number;
  payload: Uint8Array;
  packet: Uint8Array;
}

function parseTcp(p: Uint8Array): Tcp | null {
  const v6 = p[0]! >> 4 === 6;
  const iphl = v6 ? IPV6_HDR_LEN : (p[0]! & 0x0f) * 4;
  if ((v6 ? p[6] : p[9]) !== 6 || p.length < iphl + 20 || readU16(p, iphl + 2) !== SERVER_PORT) return null;
  const thl = (p[iphl + 12]! >> 4) * 4;
  return {
    seq: readU32(p, iphl + TCP_OFF_SEQ),
    ack: readU32(p, iphl + 8),
    flags: p[iphl + TCP_OFF_FLAGS]!,
    sport: readU16(p, iphl),
    payload: p.slice(iphl + thl),
    packet: p.slice(),
  };
}

/** Collects TCP packets to SERVER_PORT read from the link, `capacity` per read, until
 * `done(packets)` holds. With a small capacity the segments of a super-packet span several
 * reads: the rest waits in the link and must come without the fd being readable again. */
function collect(done: (got: Tcp[]) => boolean, capacity = LAYOUT.capacity, timeoutMs = 10_000): Promise<Tcp[]> {
  const batch = new PacketBatch({ ...LAYOUT, capacity });
  const got: Tcp[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      link!.onReadable(null);
      reject(new Error(`timed out with ${got.length} packets`));
    }, timeoutMs);
    link!.onReadable(() => {
      const n = link!.read(batch);
      for (let i = 0; i < n; i++) {
        const t = parseTcp(batch.packet(i));
        if (t !== null) got.push(t);
      }
      if (done(got)) {
        clearTimeout(timer);
        link!.onReadable(null);
        resolve(got);
      }
    });
  });
}

function writeAll(packets: Uint8Array[]): number {
  const batch = new PacketBatch(LAYOUT);
  for (const p of packets) batch.push(p);
  return link!.write(batch);
}

function delta(before: OffloadCounters, after: OffloadCounters, key: keyof OffloadCounters): number {
  return after[key] - before[key];
}

for (const [family, local, peer, capacity] of [
  ['IPv4', '192.0.2.1', '192.0.2.2', LAYOUT.capacity],
  ['IPv6', '2001:db8:1::1', '2001:db8:1::2', 3],
] as const) {
  test(`${family}: a TSO super-packet is read as segments (${capacity} per read) and a coalesced write reaches the socket`, async () => {
    const native = loadNative()!;
    const me = parseIp(peer)!;
    const client = parseIp(local)!;
    const iphl = family === 'IPv4' ? IPV4_MIN_HDR_LEN : IPV6_HDR_LEN;
    const expectBytes = 8 * OUR_SEGMENT + OUR_SEGMENT;
    let child: ChildProcess | null = null;
    try {
      const syn = collect((got) => got.some((t) => t.flags === TCP_SYN));
      child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', CLIENT, peer, String(SERVER_PORT), String(CLIENT_BYTES), String(expectBytes)]);
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
      const exited = new Promise<void>((resolve) => child!.on('exit', () => resolve()));
      const s = (await syn).find((t) => t.flags === TCP_SYN)!;
      const cport = s.sport;
      const iss = 0x7fff0000;
      const spec = { src: me, dst: client, sport: SERVER_PORT, dport: cport };
      // SYN-ACK with an MSS option; no window scaling, no timestamps.
      const mssOption = Uint8Array.of(2, 4, MSS >> 8, MSS & 0xff);
      const before = native.offloadCounters();
      const flight = collect((got) => got.reduce((n, t) => n + t.payload.length, 0) >= CLIENT_BYTES, capacity);
      assert.equal(writeAll([tcpPacket({ ...spec, seq: iss, ack: s.seq + 1, flags: TCP_SYN | TCP_ACK, payload: new Uint8Array(0), options: mssOption })]), 1);
      const data = (await flight).filter((t) => t.payload.length > 0);
      const afterRead = native.offloadCounters();
      assert.ok(delta(before, afterRead, 'tunGsoReads') >= 1, 'the kernel handed over at least one super-packet');
      // Every packet is an ordinary segment with valid checksums; together they are the stream.
      const stream = new Uint8Array(CLIENT_BYTES);
      for (const t of data) {
        assert.ok(t.payload.length <= MSS, `segment of ${t.payload.length} bytes`);
        assert.ok(verifyPacketChecksum(t.packet, 0, t.packet.length), 'checksums of a segment');
        stream.set(t.payload, (t.seq - (s.seq + 1)) >>> 0);
      }
      assert.deepEqual(stream, pattern(CLIENT_BYTES));

      // Our answer: 8 segments, acknowledging everything, coalesced into one write.
      const ack = (s.seq + 1 + CLIENT_BYTES) >>> 0;
      const ours = pattern(expectBytes + 3 * OUR_SEGMENT);
      const seg = (i: number, flags = TCP_ACK): Uint8Array =>
        tcpPacket({ ...spec, seq: (iss + 1 + i * OUR_SEGMENT) >>> 0, ack, flags, payload: ours.subarray(i * OUR_SEGMENT, (i + 1) * OUR_SEGMENT) });
      const first = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => seg(i, i === 7 ? TCP_ACK | TCP_PSH : TCP_ACK));
      assert.equal(writeAll(first), 8);
      const afterWrite = native.offloadCounters();
      assert.equal(delta(afterRead, afterWrite, 'tunGsoWrites'), 1);
      assert.equal(delta(afterRead, afterWrite, 'tunGsoWriteSegments'), 8);
      // Then 4 more, the second corrupted: the kernel must see it alone and drop it, so the
      // client gets segment 8 only (9 and 10 wait behind the hole).
      const second = [8, 9, 10, 11].map((i) => seg(i));
      second[1]![iphl + 20 + 5]! ^= 0x55;
      assert.equal(writeAll(second), 4);
      await exited;
      const result = JSON.parse(out) as { n: number; sha: string };
      assert.equal(result.n, expectBytes);
      assert.equal(result.sha, createHash('sha256').update(ours.subarray(0, expectBytes)).digest('hex'));
    } finally {
      child?.kill('SIGKILL');
    }
  });
}

test('a queue opened without offloads has none; with them, this kernel grants TSO', async () => {
  const plain = openTun({ name: uniqueName('pl'), offload: false });
  lab.trackRootLink(plain.name);
  try {
    assert.deepEqual(plain.offload, { vnetHdr: false, offloads: 0 });
    assert.ok(link!.offload.vnetHdr);
    assert.ok(link!.offload.offloads !== 0, 'this kernel accepts TSO on a TUN');
  } finally {
    await plain.close();
  }
});
