/**
 * Reference packets produced by an independent implementation, Scapy 2.5.0 (Debian python3-scapy),
 * on 2026-11-25 with `/usr/bin/python3 gen.py`, where gen.py is the script below. Scapy computed
 * every length and checksum (IPv4 header, TCP, UDP, ICMP, ICMPv6, MH; with a HAO it uses the home
 * address and with a routing header the final destination, RFC 6275 §6.3 / RFC 8200 §8.1), so
 * these bytes check iro's codecs against code iro did not write. Addresses are documentation
 * prefixes only.
 *
 * ```python
 * from scapy.all import *
 * from scapy.layers.inet6 import *
 * def h(p): return bytes(p).hex()
 * out = {}
 * out['ipv4_udp_opts'] = h(IP(src="192.0.2.1", dst="198.51.100.2", id=0x1234, ttl=64, flags="DF", options=[IPOption_Router_Alert()])/UDP(sport=4500, dport=4500)/Raw(b"iro test"))
 * out['ipv4_tcp'] = h(IP(src="192.0.2.10", dst="203.0.113.5", id=0x4d2, ttl=63)/TCP(sport=40000, dport=443, flags="S", seq=1000, window=64240, options=[("MSS",1460)])/Raw(b"hello"))
 * out['ipv4_icmp'] = h(IP(src="192.0.2.10", dst="198.51.100.1", id=7)/ICMP(type=8, code=0, id=0x77, seq=3)/Raw(b"ping-iro"))
 * out['ipv6_tcp'] = h(IPv6(src="2001:db8::1", dst="2001:db8:1::20", hlim=64)/TCP(sport=50000, dport=22, flags="PA", seq=7, ack=9, window=500)/Raw(b"ssh bytes"))
 * out['ipv6_udp'] = h(IPv6(src="2001:db8::1", dst="2001:db8::2")/UDP(sport=5353, dport=53)/Raw(b"odd-length!"))
 * out['ipv6_icmpv6'] = h(IPv6(src="2001:db8::1", dst="2001:db8::2")/ICMPv6EchoRequest(id=0x1234, seq=1, data=b"iro echo"))
 * out['ipv6_hbh_dst_udp'] = h(IPv6(src="2001:db8::1", dst="2001:db8::2")/IPv6ExtHdrHopByHop(options=[RouterAlert()])/IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\x00\x00\x00\x00")])/UDP(sport=1000, dport=2000)/Raw(b"xyz"))
 * out['ipv6_hao_tcp'] = h(IPv6(src="2001:db8:ffff::10", dst="2001:db8:1::20")/IPv6ExtHdrDestOpt(options=[HAO(hoa="2001:db8::1")])/TCP(sport=40001, dport=80, flags="S", seq=5))
 * out['ipv6_rh2_udp'] = h(IPv6(src="2001:db8:1::20", dst="2001:db8:ffff::10")/IPv6ExtHdrRouting(type=2, segleft=1, addresses=["2001:db8::1"])/UDP(sport=80, dport=40001)/Raw(b"rh2"))
 * out['ipv6_frag_first_udp'] = h(IPv6(src="2001:db8::1", dst="2001:db8::2")/IPv6ExtHdrFragment(offset=0, m=1, id=0xabcd, nh=17)/UDP(sport=7, dport=9, len=1008, chksum=0x1111)/Raw(b"A"*16))
 * out['ipv6_frag_later'] = h(IPv6(src="2001:db8::1", dst="2001:db8::2")/IPv6ExtHdrFragment(offset=2, m=0, id=0xabcd, nh=17)/Raw(b"B"*16))
 * out['ipv6_mh_be'] = h(IPv6(src="2001:db8::2", dst="2001:db8::1")/MIP6MH_BE(status=1, ha="2001:db8::1"))
 * out['ipv6_mh_brr'] = h(IPv6(src="2001:db8::2", dst="2001:db8::1")/MIP6MH_BRR())
 * out['ipv4_frag_later'] = h(IP(src="192.0.2.1", dst="198.51.100.2", id=99, flags=0, frag=100, proto=17)/Raw(b"C"*24))
 * for k,v in out.items(): print(k, v)
 * ```
 */

import { fromHex } from '../../src/util/bytes.js';

export const IPV4_UDP_OPTS = fromHex(
  '46000028123440004011a755c0000201c633640294040000119411940010300269726f2074657374',
);
export const IPV4_TCP = fromHex(
  '4500003104d200003f0678e5c000020acb0071059c4001bb000003e8000000006002faf0b96a0000020405b468656c6c' +
  '6f',
);
export const IPV4_ICMP = fromHex(
  '450000240007000040018e93c000020ac6336401080078dc0077000370696e672d69726f',
);
export const IPV6_TCP = fromHex(
  '60000000001d064020010db800000000000000000000000120010db8000100000000000000000020c350001600000007' +
  '00000009501801f469520000737368206279746573',
);
export const IPV6_UDP = fromHex(
  '600000000013114020010db800000000000000000000000120010db800000000000000000000000214e9003500134b6e' +
  '6f64642d6c656e67746821',
);
export const IPV6_ICMPV6 = fromHex(
  '6000000000103a4020010db800000000000000000000000120010db800000000000000000000000280006ba512340001' +
  '69726f206563686f',
);
export const IPV6_HBH_DST_UDP = fromHex(
  '60000000001b004020010db800000000000000000000000120010db80000000000000000000000023c00050200000100' +
  '110001040000000003e807d0000ba63178797a',
);
export const IPV6_HAO_TCP = fromHex(
  '60000000002c3c4020010db8ffff0000000000000000001020010db8000100000000000000000020060201020000c910' +
  '20010db80000000000000000000000019c41005000000005000000005002200097b80000',
);
export const IPV6_RH2_UDP = fromHex(
  '6000000000232b4020010db800010000000000000000002020010db8ffff000000000000000000101102020100000000' +
  '20010db800000000000000000000000100509c41000b634a726832',
);
export const IPV6_FRAG_FIRST_UDP = fromHex(
  '6000000000202c4020010db800000000000000000000000120010db8000000000000000000000002110000010000abcd' +
  '0007000903f0111141414141414141414141414141414141',
);
export const IPV6_FRAG_LATER = fromHex(
  '6000000000182c4020010db800000000000000000000000120010db8000000000000000000000002110000100000abcd' +
  '42424242424242424242424242424242',
);
export const IPV6_MH_BE = fromHex(
  '600000000018874020010db800000000000000000000000220010db80000000000000000000000013b020700332f0100' +
  '20010db8000000000000000000000001',
);
export const IPV6_MH_BRR = fromHex(
  '600000000008874020010db800000000000000000000000220010db80000000000000000000000013b00000068fb0000',
);
export const IPV4_FRAG_LATER = fromHex(
  '4500002c0063006440118dc3c0000201c6336402434343434343434343434343434343434343434343434343',
);
