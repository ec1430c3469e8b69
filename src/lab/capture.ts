/**
 * Packet captures and their analysis with implementations nobody here wrote: tcpdump writes the
 * capture, tshark (Wireshark 4.0) dissects it and, given the keys, decrypts ESP itself.
 *
 * - `startCapture` runs `tcpdump -i DEV -U -w FILE` in a namespace (flushed per packet) and waits
 *   until it listens; `Capture.stop()` ends it with SIGINT by PID and reads its counters.
 * - `readPackets` turns a capture into one `WirePacket` per frame (`tshark -T fields`): the
 *   protocol stack, the outer addresses, UDP ports, the outer ESP SPI and sequence number, and,
 *   when SAs are given, the ICV verdict and the inner packet tshark decrypted.
 * - `unexpectedPackets` lists what must never be on the wire between two tunnel endpoints:
 *   anything but ESP, ESP-in-UDP, NAT keepalives, ICMP errors quoting those, and link-local
 *   control (ARP, neighbour discovery, MLD, IGMP) - an inner packet in clear included.
 * - `espSequences` / `duplicateSequences`: sequence numbers per SPI, to prove none was used
 *   twice (a repeated AES-GCM / ChaCha20-Poly1305 nonce).
 *
 * tshark decrypts AES-GCM with 16-octet ICVs (RFC 4106) only, without ESN: configure `ESN = no`
 * for the SAs whose packets it should check. UDP port 4500 is dissected as ESP-in-UDP (RFC 3948)
 * by default; other ports are added with `udpEncapPorts`.
 */
import { join } from 'node:path';
import { IroError } from '../util/errors.js';
import type { Netns } from './lab.js';
import type { LabProcess } from './process.js';
import { run } from './process.js';

/** Default UDP port of ESP-in-UDP (RFC 3948 §3). */
export const NAT_T_PORT = 4500;
const LISTEN_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const TSHARK_TIMEOUT_MS = 300_000;
/** Kernel capture buffer, in KiB (tcpdump -B). */
const CAPTURE_BUFFER_KIB = 32 * 1024;
/** tcpdump's "whole packet" snap length. */
const FULL_SNAPLEN = 262_144;

export interface CaptureOptions {
  /** Output file (default: capture-N.pcap in a lab temp dir). */
  readonly file?: string;
  /** A pcap-filter expression (default: everything). */
  readonly filter?: string;
  /** Bytes kept per packet (default: all). Headers-only captures are much smaller. */
  readonly snaplen?: number;
}

export interface CaptureStats {
  readonly captured: number;
  readonly droppedByKernel: number;
}

let captureSerial = 0;

/** A running tcpdump (see startCapture). */
export class Capture {
  readonly file: string;
  readonly process: LabProcess;
  #stats: CaptureStats | null = null;

  constructor(file: string, proc: LabProcess) {
    this.file = file;
    this.process = proc;
  }

  /** Counters tcpdump printed when it stopped; null while it runs. */
  get stats(): CaptureStats | null {
    return this.#stats;
  }

  /**
   * Stops tcpdump with SIGINT (by PID) and waits for it to exit, so the file is complete.
   * Throws IroError 'ERR_IO' when it does not exit cleanly.
   */
  async stop(): Promise<CaptureStats> {
    if (this.#stats) return this.#stats;
    const s = await this.process.stop('SIGINT', STOP_TIMEOUT_MS);
    if (s.status !== 0) throw new IroError('ERR_IO', `tcpdump did not stop cleanly\n${this.process.describe()}`);
    const captured = /(\d+) packets? captured/.exec(this.process.stderr);
    const dropped = /(\d+) packets? dropped by kernel/.exec(this.process.stderr);
    this.#stats = { captured: Number(captured?.[1] ?? 0), droppedByKernel: Number(dropped?.[1] ?? 0) };
    return this.#stats;
  }
}

/**
 * Starts capturing on `dev` in `ns` and resolves once tcpdump listens. The lab ends it at
 * teardown if `stop()` was never called.
 */
export async function startCapture(ns: Netns, dev: string, options: CaptureOptions = {}): Promise<Capture> {
  const file = options.file ?? join(ns.lab.tempDir('cap'), `capture-${captureSerial++}.pcap`);
  // --immediate-mode: without it, packets still in the kernel's current TPACKET_V3 block are
  // lost when tcpdump is stopped. -B: a large buffer, so a fast transfer is not dropped.
  const args = ['-i', dev, '-n', '-U', '--immediate-mode', '-B', String(CAPTURE_BUFFER_KIB), '-Z', 'root'];
  args.push('-s', String(options.snaplen ?? FULL_SNAPLEN), '-w', file);
  if (options.filter !== undefined) args.push(options.filter);
  const proc = ns.spawn('tcpdump', args, { label: 'tcpdump', stopSignal: 'SIGINT' });
  await proc.waitForLine((l) => l.includes('listening on'), LISTEN_TIMEOUT_MS, 'that it listens');
  return new Capture(file, proc);
}

// ---------------------------------------------------------------------------------------------
// Reading captures with tshark

/** An SA whose packets tshark should decrypt. */
export interface EspSaKey {
  readonly spi: number;
  /** Cipher, in iro's (strongSwan's) names; tshark 4.0 knows the AES-GCM ones only. */
  readonly cipher: 'aes128gcm16' | 'aes192gcm16' | 'aes256gcm16';
  /** KEYMAT = key || 4-byte salt (RFC 4106 §8.1). */
  readonly keymat: Uint8Array;
}

const KEYMAT_LENGTH: Readonly<Record<EspSaKey['cipher'], number>> = { aes128gcm16: 20, aes192gcm16: 28, aes256gcm16: 36 };
const TSHARK_GCM16 = 'AES-GCM with 16 octet ICV [RFC4106]';

export interface ReadOptions {
  /** UDP ports carrying ESP-in-UDP besides 4500. */
  readonly udpEncapPorts?: readonly number[];
  /** SAs to decrypt (AES-GCM, no ESN). */
  readonly sas?: readonly EspSaKey[];
  /** A tshark display filter limiting the frames returned. */
  readonly displayFilter?: string;
}

/** An IP header's addresses, and its position in the protocol stack. */
export interface IpLayer {
  readonly family: 4 | 6;
  readonly src: string;
  readonly dst: string;
}

export interface WirePacket {
  readonly frame: number;
  /** The protocol stack tshark found, outermost first: ['eth', 'ethertype', 'ip', 'udp', 'udpencap', 'esp', ...]. */
  readonly protocols: readonly string[];
  /** Every IP header, outermost first (the outer header, then e.g. a decrypted inner one). */
  readonly ip: readonly IpLayer[];
  /** Outermost UDP ports. */
  readonly udp: { readonly srcPort: number; readonly dstPort: number } | null;
  /** The packet's own (outer) ESP header; null for other packets, ICMP errors quoting ESP included. */
  readonly esp: { readonly spi: number; readonly seq: number } | null;
  /** With SAs given: true/false when tshark checked the ICV, null when it did not. */
  readonly icvGood: boolean | null;
  /** The IP header after the ESP layer (a decrypted tunnel-mode inner packet), if any. */
  readonly inner: IpLayer | null;
  /** Protocols after the inner IP header (e.g. ['icmp', 'data'] or ['tcp']). */
  readonly innerProtocols: readonly string[];
  /** ICMP / ICMPv6 types, in order of appearance. */
  readonly icmpTypes: readonly number[];
  /** TCP ports of the first TCP header. */
  readonly tcp: { readonly srcPort: number; readonly dstPort: number } | null;
  /** Hex of the undissected payloads (`data.data`), in order of appearance. */
  readonly data: readonly string[];
}

const FIELDS = [
  'frame.number',
  'frame.protocols',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'udp.srcport',
  'udp.dstport',
  'esp.spi',
  'esp.sequence',
  'esp.icv_good',
  'icmp.type',
  'icmpv6.type',
  'tcp.srcport',
  'tcp.dstport',
  'data.data',
] as const;
type Field = (typeof FIELDS)[number];

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** The `-o` arguments that make tshark decrypt `sas` (one UAT entry per SA and address family). */
export function espSaArgs(sas: readonly EspSaKey[]): string[] {
  const args = ['-o', 'esp.enable_encryption_decode:TRUE', '-o', 'esp.enable_authentication_check:TRUE'];
  for (const sa of sas) {
    const want = KEYMAT_LENGTH[sa.cipher];
    if (want === undefined) throw new RangeError(`tshark cannot decrypt ${String(sa.cipher)}: it knows AES-GCM only`);
    if (sa.keymat.length !== want) throw new RangeError(`keymat for ${sa.cipher} must be ${want} bytes, got ${sa.keymat.length}`);
    const spi = '0x' + sa.spi.toString(16).padStart(8, '0');
    for (const family of ['IPv4', 'IPv6']) {
      args.push('-o', `uat:esp_sa:"${family}","*","*","${spi}","${TSHARK_GCM16}","0x${hex(sa.keymat)}","NULL",""`);
    }
  }
  return args;
}

function numbers(values: readonly string[]): number[] {
  return values.map((v) => Number(v)).filter((n) => Number.isFinite(n));
}

/** Builds a WirePacket from one line of `tshark -T fields` output (fields in FIELDS order). */
export function parseFieldsLine(line: string): WirePacket {
  const cols = line.split('\t');
  const get = (f: Field): string[] => {
    const v = cols[FIELDS.indexOf(f)] ?? '';
    return v === '' ? [] : v.split(',');
  };
  const protocols = (get('frame.protocols')[0] ?? '').split(':').filter((p) => p !== '');
  const v4 = { src: get('ip.src'), dst: get('ip.dst') };
  const v6 = { src: get('ipv6.src'), dst: get('ipv6.dst') };
  const ip: IpLayer[] = [];
  let inner: IpLayer | null = null;
  let innerAt = -1;
  let seenEsp = false;
  let i4 = 0;
  let i6 = 0;
  protocols.forEach((p, at) => {
    if (p === 'esp') seenEsp = true;
    let layer: IpLayer | null = null;
    if (p === 'ip' && i4 < v4.src.length) {
      layer = { family: 4, src: v4.src[i4]!, dst: v4.dst[i4]! };
      i4++;
    } else if (p === 'ipv6' && i6 < v6.src.length) {
      layer = { family: 6, src: v6.src[i6]!, dst: v6.dst[i6]! };
      i6++;
    }
    if (!layer) return;
    ip.push(layer);
    if (seenEsp && inner === null) {
      inner = layer;
      innerAt = at;
    }
  });
  const udpSrc = numbers(get('udp.srcport'));
  const udpDst = numbers(get('udp.dstport'));
  // The ESP header of this packet, not one quoted by an ICMP error or nested after decryption.
  const outerIp = protocols.findIndex((p) => p === 'ip' || p === 'ipv6');
  const afterIp = outerIp >= 0 ? protocols.slice(outerIp + 1).filter((l) => !l.startsWith('ipv6.')).slice(0, 3).join(':') : '';
  const outerEsp = afterIp.startsWith('esp') || afterIp === 'udp:udpencap:esp';
  const spi = outerEsp ? get('esp.spi') : [];
  const seq = outerEsp ? numbers(get('esp.sequence')) : [];
  const icv = get('esp.icv_good');
  const tcpSrc = numbers(get('tcp.srcport'));
  const tcpDst = numbers(get('tcp.dstport'));
  return {
    frame: Number(get('frame.number')[0] ?? 0),
    protocols,
    ip,
    udp: udpSrc.length > 0 ? { srcPort: udpSrc[0]!, dstPort: udpDst[0]! } : null,
    esp: spi.length > 0 && seq.length > 0 ? { spi: Number(spi[0]), seq: seq[0]! } : null,
    icvGood: icv.length > 0 ? icv[0] === '1' || icv[0] === 'True' : null,
    inner,
    innerProtocols: innerAt >= 0 ? protocols.slice(innerAt + 1) : [],
    icmpTypes: [...numbers(get('icmp.type')), ...numbers(get('icmpv6.type'))],
    tcp: tcpSrc.length > 0 ? { srcPort: tcpSrc[0]!, dstPort: tcpDst[0]! } : null,
    data: get('data.data'),
  };
}

/** Dissects `file` with tshark: one WirePacket per frame, in capture order. */
export async function readPackets(file: string, options: ReadOptions = {}): Promise<WirePacket[]> {
  const args = ['-r', file, '-n', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const port of options.udpEncapPorts ?? []) args.push('-d', `udp.port==${port},udpencap`);
  if (options.sas && options.sas.length > 0) args.push(...espSaArgs(options.sas));
  if (options.displayFilter !== undefined) args.push('-Y', options.displayFilter);
  for (const f of FIELDS) args.push('-e', f);
  const r = await run('tshark', args, { timeoutMs: TSHARK_TIMEOUT_MS });
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(parseFieldsLine);
}

// ---------------------------------------------------------------------------------------------
// Judging what was on the wire

export type WireKind =
  | 'esp'
  | 'esp-in-udp'
  | 'nat-keepalive'
  | 'icmp-error'
  | 'link-control'
  | 'other';

/** ICMPv6 types of link-local control: MLD (130-132, 143) and neighbour discovery (133-137). */
const ICMPV6_LINK_CONTROL = new Set([130, 131, 132, 133, 134, 135, 136, 137, 143]);
/** ICMP error types (destination unreachable, time exceeded, parameter problem; v4 and v6). */
const ICMP_ERRORS = new Set([3, 11, 12]);
const ICMPV6_ERRORS = new Set([1, 2, 3, 4]);

/** What kind of traffic a packet is, judged by its outer layers only. */
export function classify(p: WirePacket): WireKind {
  const outer = p.ip[0];
  if (!outer) return 'link-control';
  // The layers after the outer IP header, IPv6 extension headers (ipv6.hopopts, ...) skipped.
  const after = p.protocols.slice(p.protocols.indexOf(outer.family === 4 ? 'ip' : 'ipv6') + 1).filter((l) => !l.startsWith('ipv6.'));
  const [l4, l5, l6] = after;
  if (l4 === 'esp') return 'esp';
  if (l4 === 'udp' && l5 === 'udpencap') return l6 === 'esp' ? 'esp-in-udp' : 'nat-keepalive';
  if (l4 === 'igmp') return 'link-control';
  const firstIcmp = p.icmpTypes[0];
  if (l4 === 'icmpv6' && firstIcmp !== undefined && ICMPV6_LINK_CONTROL.has(firstIcmp)) return 'link-control';
  if ((l4 === 'icmp' || l4 === 'icmpv6') && firstIcmp !== undefined) {
    const errors = l4 === 'icmp' ? ICMP_ERRORS : ICMPV6_ERRORS;
    const quoted = after.slice(1);
    if (errors.has(firstIcmp) && (quoted.includes('esp') || quoted.includes('udpencap'))) return 'icmp-error';
  }
  return 'other';
}

/** A packet that should not have been on the wire, and why. */
export interface Unexpected {
  readonly packet: WirePacket;
  readonly kind: WireKind;
  readonly reason: string;
}

/**
 * Every packet of a tunnel's wire that is not tunnel traffic between its endpoints: IP packets
 * whose outer addresses are not two of `locators`, and packets between them that are not ESP,
 * ESP-in-UDP, NAT keepalives or ICMP errors about those. Link-local control is allowed.
 */
export function unexpectedPackets(packets: readonly WirePacket[], locators: readonly string[]): Unexpected[] {
  const known = new Set(locators);
  const out: Unexpected[] = [];
  for (const packet of packets) {
    const kind = classify(packet);
    if (kind === 'link-control') continue;
    const outer = packet.ip[0]!;
    if (!known.has(outer.src) || !known.has(outer.dst)) {
      out.push({ packet, kind, reason: `${outer.src} -> ${outer.dst} is not between the locators ${locators.join(', ')}` });
    } else if (kind === 'other') {
      out.push({ packet, kind, reason: `${outer.src} -> ${outer.dst} carries ${packet.protocols.join(':')} in clear` });
    }
  }
  return out;
}

/** One line per packet, for assertion messages. */
export function describePackets(packets: readonly WirePacket[], limit = 20): string {
  const lines = packets
    .slice(0, limit)
    .map((p) => `#${p.frame} ${p.ip.map((l) => `${l.src}>${l.dst}`).join(' / ')} ${p.protocols.join(':')}`);
  if (packets.length > limit) lines.push(`... and ${packets.length - limit} more`);
  return lines.join('\n');
}

/** The outer ESP sequence numbers of each SPI, in capture order. */
export function espSequences(packets: readonly WirePacket[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const p of packets) {
    if (!p.esp) continue;
    let list = out.get(p.esp.spi);
    if (!list) out.set(p.esp.spi, (list = []));
    list.push(p.esp.seq);
  }
  return out;
}

/** Sequence numbers that appear more than once for `spi` (sorted); empty when none repeats. */
export function duplicateSequences(packets: readonly WirePacket[], spi: number): number[] {
  const seen = new Set<number>();
  const dup = new Set<number>();
  for (const seq of espSequences(packets).get(spi) ?? []) {
    if (seen.has(seq)) dup.add(seq);
    seen.add(seq);
  }
  return [...dup].sort((a, b) => a - b);
}
