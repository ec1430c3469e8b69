/**
 * Agent for the native-free Link tests: runs inside a test namespace (started by
 * test/helpers/netns-lite.ts under `ip netns exec`), opens a MacvtapLink and does what the test
 * asks over JSON lines on stdin/stdout:
 *
 *   open {name, mtu, addresses, routes?}     -> {name, tapName, devicePath, hostMac, tapMac} or {code, fix, message}
 *   mode {mode: record|echo|count}           record: keep packets (hex); echo: answer ICMP/ICMPv6 echo
 *                                            requests by swapping addresses (others recorded); count: only count
 *   packets                                  -> {packets: hex[]} and forget them
 *   counters                                 -> link counters + {echoed, seen, firstAtMs, lastAtMs}
 *   send {hex, count}                        -> writes the packet `count` times in batches; {written, ms}
 *   close                                    -> closes the link
 *   exit {code}                              -> process.exit(code) without closing (tests the exit hook)
 *
 * It does nothing unless IRO_NF_AGENT=1, so a test runner that globs it is not held up.
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { openMacvtapLink, type MacvtapLink } from '../../native-free/index.js';
import { PacketBatch } from '../../src/packet/batch.js';
import {
  ICMP_OFF_CHECKSUM,
  ICMPV4_ECHO_REPLY,
  ICMPV4_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPV4_ADDR_LEN,
  IPV4_OFF_DST,
  IPV4_OFF_PROTO,
  IPV4_OFF_SRC,
  IPV6_ADDR_LEN,
  IPV6_HDR_LEN,
  IPV6_OFF_DST,
  IPV6_OFF_NEXT_HDR,
  IPV6_OFF_SRC,
} from '../../src/packet/constants.js';
import { fromHex, readU16, toHex, writeU16 } from '../../src/util/bytes.js';
import { updateChecksum16 } from '../../src/util/checksum.js';

export const AGENT_ENV = 'IRO_NF_AGENT';
const BATCH = { capacity: 64, slotSize: 2048, headroom: 64 };
const MAX_RECORDED = 512;
/** Not 0: write() skips packets whose status is non-zero. */
const SKIP = 1;

type Mode = 'record' | 'echo' | 'count';

let link: MacvtapLink | null = null;
let mode: Mode = 'record';
const recorded: string[] = [];
let echoed = 0;
let seen = 0;
let firstAtMs = 0;
let lastAtMs = 0;
const batch = new PacketBatch(BATCH);

/** Turns an echo request at `off` into the reply in place; false when it is not one. */
function toEchoReply(d: Uint8Array, off: number): boolean {
  const version = d[off]! >> 4;
  if (version === 4 && d[off + IPV4_OFF_PROTO] === IPPROTO_ICMP) {
    const icmp = off + (d[off]! & 0x0f) * 4;
    if (d[icmp] !== ICMPV4_ECHO_REQUEST) return false;
    swap(d, off + IPV4_OFF_SRC, off + IPV4_OFF_DST, IPV4_ADDR_LEN);
    retype(d, icmp, ICMPV4_ECHO_REPLY);
    return true;
  }
  if (version === 6 && d[off + IPV6_OFF_NEXT_HDR] === IPPROTO_ICMPV6) {
    const icmp = off + IPV6_HDR_LEN;
    if (d[icmp] !== ICMPV6_ECHO_REQUEST) return false;
    swap(d, off + IPV6_OFF_SRC, off + IPV6_OFF_DST, IPV6_ADDR_LEN);
    retype(d, icmp, ICMPV6_ECHO_REPLY);
    return true;
  }
  return false;
}

/** Swapping source and destination leaves IP and pseudo-header sums unchanged (addition commutes). */
function swap(d: Uint8Array, a: number, b: number, len: number): void {
  for (let i = 0; i < len; i++) {
    const t = d[a + i]!;
    d[a + i] = d[b + i]!;
    d[b + i] = t;
  }
}

/** Sets the ICMP type and fixes the checksum incrementally (RFC 1624). */
function retype(d: Uint8Array, icmp: number, type: number): void {
  const oldWord = readU16(d, icmp);
  d[icmp] = type;
  const sum = readU16(d, icmp + ICMP_OFF_CHECKSUM);
  writeU16(d, icmp + ICMP_OFF_CHECKSUM, updateChecksum16(sum, oldWord, readU16(d, icmp)));
}

function onReadable(): void {
  if (!link) return;
  const n = link.read(batch);
  if (n === 0) return;
  const now = performance.now();
  if (seen === 0) firstAtMs = now;
  lastAtMs = now;
  seen += n;
  if (mode === 'count') return;
  let replies = 0;
  for (let i = 0; i < n; i++) {
    if (mode === 'echo' && toEchoReply(batch.data, batch.offset[i]!)) {
      replies++;
      continue;
    }
    batch.status[i] = SKIP;
    if (recorded.length < MAX_RECORDED) recorded.push(toHex(batch.packet(i)));
  }
  if (replies > 0) echoed += link.write(batch);
}

async function handle(req: Record<string, unknown>): Promise<Record<string, unknown>> {
  switch (req['op']) {
    case 'open': {
      try {
        link = await openMacvtapLink({
          name: req['name'] as string,
          mtu: req['mtu'] as number,
          addresses: req['addresses'] as string[],
        });
      } catch (err) {
        const e = err as { code?: string; fix?: string; message: string; name: string };
        return { failed: true, code: e.code, fix: e.fix, errorName: e.name, message: e.message };
      }
      for (const r of (req['routes'] as string[] | undefined) ?? []) await link.addRoute(r);
      link.onReadable(onReadable);
      return {
        name: link.name,
        tapName: link.tapName,
        peerName: link.peerName,
        devicePath: link.devicePath,
        privateNode: link.privateNode,
        hostMac: toHex(link.hostMac),
        tapMac: toHex(link.tapMac),
      };
    }
    case 'mode':
      mode = req['mode'] as Mode;
      return {};
    case 'packets':
      return { packets: recorded.splice(0) };
    case 'counters':
      return { ...link!.counters, echoed, seen, firstAtMs, lastAtMs };
    case 'send': {
      const pkt = fromHex(req['hex'] as string);
      const count = req['count'] as number;
      const out = new PacketBatch(BATCH);
      let written = 0;
      const start = performance.now();
      for (let left = count; left > 0; ) {
        out.reset();
        const k = Math.min(left, out.capacity);
        for (let i = 0; i < k; i++) out.push(pkt);
        written += link!.write(out);
        left -= k;
      }
      return { written, ms: performance.now() - start };
    }
    case 'close':
      await link!.close();
      return {};
    case 'exit':
      process.exit(req['code'] as number);
    default:
      throw new Error(`unknown op ${String(req['op'])}`);
  }
}

if (process.env[AGENT_ENV] === '1') {
  createInterface({ input: process.stdin }).on('line', (line) => {
    const req = JSON.parse(line) as Record<string, unknown>;
    handle(req).then(
      (reply) => process.stdout.write(JSON.stringify({ id: req['id'], ...reply }) + '\n'),
      (err: Error) => process.stdout.write(JSON.stringify({ id: req['id'], error: err.message }) + '\n'),
    );
  });
}
