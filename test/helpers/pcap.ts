/**
 * Minimal reader of the classic pcap files tcpdump writes (-w): the IP packets of an Ethernet
 * capture, for tests that check header fields the kernel sets (e.g. UDP checksums).
 */
import { readFileSync } from 'node:fs';

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const LINKTYPE_ETHERNET = 1;
const GLOBAL_HDR = 24;
const RECORD_HDR = 16;
const ETH_HDR = 14;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;

/** The IPv4 and IPv6 packets of an Ethernet pcap file, in capture order. */
export function readPcapIpPackets(file: string): Uint8Array[] {
  const buf = readFileSync(file);
  const magic = buf.readUInt32LE(0);
  const le = magic === MAGIC_US || magic === MAGIC_NS;
  if (!le && buf.readUInt32BE(0) !== MAGIC_US && buf.readUInt32BE(0) !== MAGIC_NS) {
    throw new Error(`${file} is not a pcap file`);
  }
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  if (u32(20) !== LINKTYPE_ETHERNET) throw new Error(`${file}: link type ${u32(20)} is not Ethernet`);
  const out: Uint8Array[] = [];
  for (let o = GLOBAL_HDR; o + RECORD_HDR <= buf.length; ) {
    const incl = u32(o + 8);
    const frame = buf.subarray(o + RECORD_HDR, o + RECORD_HDR + incl);
    o += RECORD_HDR + incl;
    if (frame.length < ETH_HDR) continue;
    const type = frame.readUInt16BE(12);
    if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) out.push(new Uint8Array(frame.subarray(ETH_HDR)));
  }
  return out;
}
