import test from 'node:test';
import assert from 'node:assert/strict';
import { concatBytes, toHex } from '../../src/util/bytes.js';
import { formatIp } from '../../src/util/addr.js';
import {
  IPPROTO_DSTOPTS,
  IPPROTO_ESP,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_MH,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  MH_TYPE_BE,
  MH_TYPE_BU,
} from '../../src/packet/constants.js';
import { extractFlow, newFlowTuple, type FlowTuple } from '../../src/packet/flow.js';
import { writeIpv4Header } from '../../src/packet/ipv4.js';
import { writeHaoDestOpts, writeIpv6Header } from '../../src/packet/ipv6.js';
import { E31_BU, E31_ESP } from './e3-vectors.js';
import { COA, HA, HOA, PLACEMENTS, ip, place } from './helpers.js';
import * as ref from './reference-packets.js';

interface Expect {
  family: 4 | 6;
  src: string;
  dst: string;
  proto: number;
  srcPort: number;
  dstPort: number;
  l4Offset: number;
  fragment: boolean;
}

function flowOf(pkt: Uint8Array, t: FlowTuple = newFlowTuple()): Expect {
  assert.equal(extractFlow(pkt, 0, pkt.length, t), true);
  const n = t.family === 4 ? 4 : 16;
  return {
    family: t.family as 4 | 6,
    src: formatIp(t.src.slice(0, n)),
    dst: formatIp(t.dst.slice(0, n)),
    proto: t.proto,
    srcPort: t.srcPort,
    dstPort: t.dstPort,
    l4Offset: t.l4Offset,
    fragment: t.fragment,
  };
}

const CASES: [string, Uint8Array, Expect][] = [
  ['IPv4 TCP', ref.IPV4_TCP, { family: 4, src: '192.0.2.10', dst: '203.0.113.5', proto: IPPROTO_TCP, srcPort: 40000, dstPort: 443, l4Offset: 20, fragment: false }],
  ['IPv4 UDP behind IP options', ref.IPV4_UDP_OPTS, { family: 4, src: '192.0.2.1', dst: '198.51.100.2', proto: IPPROTO_UDP, srcPort: 4500, dstPort: 4500, l4Offset: 24, fragment: false }],
  ['IPv4 ICMP echo: type/code', ref.IPV4_ICMP, { family: 4, src: '192.0.2.10', dst: '198.51.100.1', proto: IPPROTO_ICMP, srcPort: 8, dstPort: 0, l4Offset: 20, fragment: false }],
  ['IPv4 non-first fragment: no ports', ref.IPV4_FRAG_LATER, { family: 4, src: '192.0.2.1', dst: '198.51.100.2', proto: IPPROTO_UDP, srcPort: 0, dstPort: 0, l4Offset: 20, fragment: true }],
  ['IPv6 TCP', ref.IPV6_TCP, { family: 6, src: '2001:db8::1', dst: '2001:db8:1::20', proto: IPPROTO_TCP, srcPort: 50000, dstPort: 22, l4Offset: 40, fragment: false }],
  ['IPv6 UDP', ref.IPV6_UDP, { family: 6, src: '2001:db8::1', dst: '2001:db8::2', proto: IPPROTO_UDP, srcPort: 5353, dstPort: 53, l4Offset: 40, fragment: false }],
  ['IPv6 ICMPv6 echo: type/code', ref.IPV6_ICMPV6, { family: 6, src: '2001:db8::1', dst: '2001:db8::2', proto: IPPROTO_ICMPV6, srcPort: 128, dstPort: 0, l4Offset: 40, fragment: false }],
  ['IPv6 HbH + DestOpt + UDP', ref.IPV6_HBH_DST_UDP, { family: 6, src: '2001:db8::1', dst: '2001:db8::2', proto: IPPROTO_UDP, srcPort: 1000, dstPort: 2000, l4Offset: 56, fragment: false }],
  ['IPv6 HAO + TCP (wire source)', ref.IPV6_HAO_TCP, { family: 6, src: '2001:db8:ffff::10', dst: '2001:db8:1::20', proto: IPPROTO_TCP, srcPort: 40001, dstPort: 80, l4Offset: 64, fragment: false }],
  ['IPv6 RH2 + UDP', ref.IPV6_RH2_UDP, { family: 6, src: '2001:db8:1::20', dst: '2001:db8:ffff::10', proto: IPPROTO_UDP, srcPort: 80, dstPort: 40001, l4Offset: 64, fragment: false }],
  ['IPv6 first fragment: ports present', ref.IPV6_FRAG_FIRST_UDP, { family: 6, src: '2001:db8::1', dst: '2001:db8::2', proto: IPPROTO_UDP, srcPort: 7, dstPort: 9, l4Offset: 48, fragment: false }],
  ['IPv6 later fragment: no ports', ref.IPV6_FRAG_LATER, { family: 6, src: '2001:db8::1', dst: '2001:db8::2', proto: IPPROTO_UDP, srcPort: 0, dstPort: 0, l4Offset: 48, fragment: true }],
  ['IPv6 MH Binding Error: MH type', ref.IPV6_MH_BE, { family: 6, src: '2001:db8::2', dst: '2001:db8::1', proto: IPPROTO_MH, srcPort: MH_TYPE_BE, dstPort: 0, l4Offset: 40, fragment: false }],
];

test('extractFlow fills the selectors, at every placement', () => {
  for (const [name, pkt, expected] of CASES) {
    assert.deepEqual(flowOf(pkt), expected, name);
    for (const [bo, o] of PLACEMENTS) {
      const { buf, off } = place(pkt, bo, o);
      const t = newFlowTuple();
      assert.equal(extractFlow(buf, off, pkt.length, t), true, name);
      assert.equal(t.l4Offset, expected.l4Offset, `${name}: l4Offset is relative to the packet`);
      assert.equal(t.srcPort, expected.srcPort, name);
    }
  }
});

test('an MH Binding Update behind a Destination Options header (RFC 3776 form): MH type in srcPort', () => {
  const pkt = new Uint8Array(40 + 24 + E31_BU.length);
  let o = writeIpv6Header(pkt, 0, HOA, HA, IPPROTO_DSTOPTS, 24 + E31_BU.length);
  o += writeHaoDestOpts(pkt, o, IPPROTO_MH, HOA);
  pkt.set(E31_BU, o);
  assert.deepEqual(flowOf(pkt), {
    family: 6,
    src: '2001:db8::1',
    dst: '2001:db8::2',
    proto: IPPROTO_MH,
    srcPort: MH_TYPE_BU,
    dstPort: 0,
    l4Offset: 64,
    fragment: false,
  });
});

test('ESP and SCTP: protocol only for ESP, ports for SCTP', () => {
  const esp = new Uint8Array(40 + E31_ESP.length);
  writeIpv6Header(esp, 0, COA, HA, IPPROTO_ESP, E31_ESP.length);
  esp.set(E31_ESP, 40);
  assert.deepEqual(flowOf(esp), { family: 6, src: '2001:db8:ffff::10', dst: '2001:db8::2', proto: IPPROTO_ESP, srcPort: 0, dstPort: 0, l4Offset: 40, fragment: false });
  const sctp = new Uint8Array(20 + 12);
  writeIpv4Header(sctp, 0, ip('192.0.2.1'), ip('192.0.2.2'), IPPROTO_SCTP, 12);
  sctp.set([0x0b, 0x59, 0x0e, 0x10], 20);
  const f = flowOf(sctp);
  assert.equal(f.srcPort, 2905);
  assert.equal(f.dstPort, 3600);
});

test('extractFlow returns false with family 0 on malformed input', () => {
  const t = newFlowTuple();
  const truncatedTcp = new Uint8Array(20 + 10);
  writeIpv4Header(truncatedTcp, 0, ip('192.0.2.1'), ip('192.0.2.2'), IPPROTO_TCP, 10);
  const shortMh = new Uint8Array(44);
  writeIpv6Header(shortMh, 0, HOA, HA, IPPROTO_MH, 4);
  const shortIcmp = new Uint8Array(44);
  writeIpv6Header(shortIcmp, 0, HOA, HA, IPPROTO_ICMPV6, 4);
  const version5 = ref.IPV4_TCP.slice();
  version5[0] = 0x55;
  const cases: [string, Uint8Array][] = [
    ['TCP header shorter than 20', truncatedTcp],
    ['MH shorter than 8', shortMh],
    ['ICMPv6 shorter than 8', shortIcmp],
    ['version 5', version5],
    ['empty', new Uint8Array(0)],
    ['IPv6 truncated', ref.IPV6_TCP.subarray(0, 50)],
  ];
  for (const [name, pkt] of cases) {
    assert.equal(extractFlow(pkt, 0, pkt.length, t), false, name);
    assert.equal(t.family, 0, name);
  }
});

test('reusing a tuple for IPv4 after IPv6 clears the address tails', () => {
  const t = newFlowTuple();
  assert.equal(extractFlow(ref.IPV6_TCP, 0, ref.IPV6_TCP.length, t), true);
  assert.equal(extractFlow(ref.IPV4_TCP, 0, ref.IPV4_TCP.length, t), true);
  assert.equal(toHex(t.src), toHex(concatBytes(ip('192.0.2.10'), new Uint8Array(12))));
  assert.equal(toHex(t.dst), toHex(concatBytes(ip('203.0.113.5'), new Uint8Array(12))));
});
