/**
 * TunLink over a real TUN interface: the test opens it, moves it into a fresh namespace, pings
 * addresses routed into it from the namespace, reads the ICMP echo requests in batches, writes
 * echo replies and checks that ping receives them. Also multi-queue interfaces and oversize
 * packets. Needs root and iputils ping.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { openTun, TunLink } from '../../src/io/tun.js';
import { loadNative } from '../../src/native/index.js';
import { PacketBatch } from '../../src/packet/batch.js';
import {
  ICMPV4_ECHO_REPLY,
  ICMPV4_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPV4_OFF_DST,
  IPV4_OFF_PROTO,
  IPV4_OFF_SRC,
  IPV6_HDR_LEN,
  IPV6_OFF_DST,
  IPV6_OFF_NEXT_HDR,
  IPV6_OFF_SRC,
  ICMP_OFF_CHECKSUM,
} from '../../src/packet/constants.js';
import { parseIp } from '../../src/util/addr.js';
import { rangeEqual, readU16, writeU16 } from '../../src/util/bytes.js';
import { updateChecksum16 } from '../../src/util/checksum.js';
import { IroError } from '../../src/util/errors.js';
import { ip, Lab, nsRun, run, uniqueName } from '../helpers/netns.js';

const PEER4 = '192.0.2.2';
const PEER6 = '2001:db8:1::2';
const LAYOUT = { capacity: 64, slotSize: 2048, headroom: 64 };

const lab = new Lab();
let ns = '';
let link: TunLink | null = null;

before(() => {
  run('ping', ['-V']);
  ns = lab.netns('t');
  link = openTun({ name: uniqueName('tun') });
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

/** Runs ping in the namespace with `args`, waiting for it to end (it gets no replies here). */
function pingAndWait(args: string[]): void {
  spawnSync('ip', ['netns', 'exec', ns, 'ping', '-q', ...args], { timeout: 10_000 });
}

/** Index of the ICMP type byte when `p` is an echo request to `dst`, else -1. */
function echoRequest(p: Uint8Array, dst: Uint8Array): number {
  const v4 = p.length >= 28 && p[0]! >> 4 === 4 && p[IPV4_OFF_PROTO] === IPPROTO_ICMP;
  if (v4 && rangeEqual(p, IPV4_OFF_DST, dst, 0, 4)) {
    const ihl = (p[0]! & 0x0f) * 4;
    return p[ihl] === ICMPV4_ECHO_REQUEST ? ihl : -1;
  }
  const v6 = p.length >= 48 && p[0]! >> 4 === 6 && p[IPV6_OFF_NEXT_HDR] === IPPROTO_ICMPV6;
  if (v6 && rangeEqual(p, IPV6_OFF_DST, dst, 0, 16)) {
    return p[IPV6_HDR_LEN] === ICMPV6_ECHO_REQUEST ? IPV6_HDR_LEN : -1;
  }
  return -1;
}

/** Turns an echo request into its reply in place: swap addresses, change the type, and update
 * the checksum (RFC 1624; the swap leaves every sum unchanged). */
function makeReply(p: Uint8Array, icmp: number): void {
  const v4 = p[0]! >> 4 === 4;
  const [src, dst, len] = v4 ? [IPV4_OFF_SRC, IPV4_OFF_DST, 4] : [IPV6_OFF_SRC, IPV6_OFF_DST, 16];
  const tmp = p.slice(src, src + len);
  p.copyWithin(src, dst, dst + len);
  p.set(tmp, dst);
  const oldWord = (p[icmp]! << 8) | p[icmp + 1]!;
  p[icmp] = v4 ? ICMPV4_ECHO_REPLY : ICMPV6_ECHO_REPLY;
  const newWord = (p[icmp]! << 8) | p[icmp + 1]!;
  const off = icmp + ICMP_OFF_CHECKSUM;
  writeU16(p, off, updateChecksum16(readU16(p, off), oldWord, newWord));
}

test('echo requests queued by the kernel arrive together in one read, each at its slot headroom', () => {
  // -l 8 sends all 8 at once; -w 1 ends ping (without replies) after a second.
  pingAndWait(['-c', '8', '-l', '8', '-w', '1', PEER4]);
  const batch = new PacketBatch(LAYOUT);
  const n = link!.read(batch);
  const dst = parseIp(PEER4)!;
  const echoes = [];
  for (let i = 0; i < n; i++) {
    assert.equal(batch.offset[i], batch.slotStart(i) + batch.headroom);
    assert.equal(batch.status[i], 0);
    if (echoRequest(batch.packet(i), dst) >= 0) echoes.push(i);
  }
  assert.equal(echoes.length, 8);
  assert.equal(batch.count, n);
  assert.equal(link!.read(batch), 0);
});

test('packets longer than a slot allows are discarded and counted, never cut short', () => {
  const native = loadNative()!;
  const before = native.tunOversize();
  const batch = new PacketBatch(LAYOUT);
  pingAndWait(['-c', '2', '-l', '2', '-s', '600', '-w', '1', PEER4]);
  pingAndWait(['-c', '3', '-l', '3', '-s', '56', '-w', '1', PEER4]);
  // Room for 300 bytes per packet: the 628-byte pings do not fit, the 84-byte ones do.
  const tailroom = LAYOUT.slotSize - LAYOUT.headroom - 300;
  const { data, offset, length, slotSize, headroom, capacity } = batch;
  // The queue was opened with or without offloads (IRO_OFFLOAD): read it the matching way.
  const n = link!.offload.vnetHdr
    ? native.tunReadVnet(link!.fd, data, offset, length, slotSize, headroom, tailroom, capacity, new Uint8Array(native.tunRxStateBytes))
    : native.tunRead(link!.fd, data, offset, length, slotSize, headroom, tailroom, capacity);
  const dst = parseIp(PEER4)!;
  let small = 0;
  for (let i = 0; i < n; i++) {
    if (echoRequest(batch.data.subarray(batch.offset[i]!, batch.offset[i]! + batch.length[i]!), dst) >= 0) {
      assert.equal(batch.length[i], 84);
      small++;
    }
  }
  assert.equal(small, 3);
  assert.equal(native.tunOversize() - before, 2);
});

for (const [family, peer] of [
  ['IPv4', PEER4],
  ['IPv6', PEER6],
] as const) {
  test(`echo replies written to the TUN reach ping (${family})`, async () => {
    const dst = parseIp(peer)!;
    const batch = new PacketBatch(LAYOUT);
    let replied = 0;
    link!.onReadable(() => {
      const n = link!.read(batch);
      for (let i = 0; i < n; i++) {
        const icmp = echoRequest(batch.packet(i), dst);
        if (icmp < 0) batch.status[i] = 1;
        else makeReply(batch.packet(i), icmp);
      }
      replied += link!.write(batch);
    });
    const ping = spawn('ip', ['netns', 'exec', ns, 'ping', '-c', '3', '-i', '0.2', '-W', '5', peer]);
    let out = '';
    ping.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    const timer = setTimeout(() => ping.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => ping.on('exit', resolve));
    clearTimeout(timer);
    link!.onReadable(() => link!.read(batch));
    assert.equal(code, 0, out);
    assert.match(out, /3 packets transmitted, 3 received/);
    assert.equal(replied, 3);
  });
}

/** An IroError ERR_IO caused by an addon error with errno name `errno`. */
function ioErrorWith(err: unknown, errno: string): boolean {
  return err instanceof IroError && err.code === 'ERR_IO' && (err.cause as { code?: string }).code === errno;
}

test('a multi-queue interface takes several queues; a single-queue one refuses a second', async () => {
  const mqName = uniqueName('mq');
  const q1 = openTun({ name: mqName, multiQueue: true });
  lab.trackRootLink(q1.name);
  const q2 = openTun({ name: mqName, multiQueue: true });
  const single = openTun({ name: uniqueName('sq') });
  lab.trackRootLink(single.name);
  try {
    assert.equal(q2.name, q1.name);
    assert.notEqual(q2.fd, q1.fd);
    assert.match(ip('-d', 'link', 'show', q1.name), /multi_queue/);
    assert.throws(
      () => openTun({ name: single.name }),
      (err: unknown) => ioErrorWith(err, 'EBUSY'),
    );
    assert.throws(
      () => openTun({ name: single.name, multiQueue: true }),
      (err: unknown) => ioErrorWith(err, 'EINVAL'),
    );
  } finally {
    await q1.close();
    await q2.close();
    await single.close();
  }
  // The interfaces went away with their last queue.
  assert.throws(() => ip('link', 'show', q1.name));
  assert.throws(() => ip('link', 'show', single.name));
});

test('the kernel completes a name pattern', async () => {
  const t = openTun({ name: `i${process.pid.toString(36)}p%d` });
  lab.trackRootLink(t.name);
  try {
    assert.match(t.name, new RegExp(`^i${process.pid.toString(36)}p\\d+$`));
  } finally {
    await t.close();
  }
});
