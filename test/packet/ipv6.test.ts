import test from 'node:test';
import assert from 'node:assert/strict';
import { concatBytes, toHex, writeU16 } from '../../src/util/bytes.js';
import {
  IPPROTO_DSTOPTS,
  IPPROTO_ESP,
  IPPROTO_FRAGMENT,
  IPPROTO_HOPOPTS,
  IPPROTO_ROUTING,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV6_HAO_DSTOPT_LEN,
  IPV6_RH2_LEN,
} from '../../src/packet/constants.js';
import {
  newIpv6Packet,
  parseIpv6,
  parseIpv6Header,
  writeHaoDestOpts,
  writeIpv6Header,
  writeRh2,
  type Ipv6Packet,
} from '../../src/packet/ipv6.js';
import {
  E31_ESP,
  E31_IRO_HDR,
  E31_RFC3776_HDR,
  E32_ESP,
  E32_IRO_HDR_START,
  E32_RFC3776_HDR_START,
  E32_RH2_START,
} from './e3-vectors.js';
import { COA, HA, HOA, PLACEMENTS, place } from './helpers.js';
import {
  IPV6_FRAG_FIRST_UDP,
  IPV6_FRAG_LATER,
  IPV6_HAO_TCP,
  IPV6_HBH_DST_UDP,
  IPV6_RH2_UDP,
  IPV6_TCP,
} from './reference-packets.js';

/** An extension header of `len` bytes (multiple of 8); byte 0 (Next Header) is set by `chain`. */
function optionsHeader(len = 8): Uint8Array {
  const h = new Uint8Array(len);
  h[1] = len / 8 - 1;
  h[2] = 1; // PadN covering the rest
  h[3] = len - 4;
  return h;
}

function routingHeader(type: number, segLeft: number, addresses: number): Uint8Array {
  const h = new Uint8Array(8 + 16 * addresses);
  h[1] = addresses * 2;
  h[2] = type;
  h[3] = segLeft;
  return h;
}

function fragmentHeader(offsetUnits: number, more: boolean): Uint8Array {
  const h = new Uint8Array(8);
  writeU16(h, 2, (offsetUnits << 3) | (more ? 1 : 0));
  h[7] = 0x42;
  return h;
}

/** IPv6 (2001:db8::1 -> 2001:db8::2) + the given extension headers + an upper layer. */
function chain(headers: [number, Uint8Array][], proto: number, upper: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let payload = 0;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]![1].slice();
    h[0] = i + 1 < headers.length ? headers[i + 1]![0] : proto;
    parts.push(h);
    payload += h.length;
  }
  payload += upper.length;
  const ip = new Uint8Array(40);
  writeIpv6Header(ip, 0, HOA, HA, headers.length > 0 ? headers[0]![0] : proto, payload);
  return concatBytes(ip, ...parts, upper);
}

function parsed(bytes: Uint8Array): Ipv6Packet {
  const p = newIpv6Packet();
  assert.equal(parseIpv6(bytes, 0, bytes.length, p), true);
  return p;
}

test('parseIpv6Header reads the fixed header; writeIpv6Header round-trips traffic class and flow label', () => {
  const p = newIpv6Packet();
  assert.equal(parseIpv6Header(IPV6_TCP, 0, IPV6_TCP.length, p), true);
  assert.equal(p.payloadLength, 0x1d);
  assert.equal(p.nextHeader, IPPROTO_TCP);
  assert.equal(p.hopLimit, 64);
  assert.equal(p.srcOffset, 8);
  assert.equal(p.dstOffset, 24);
  assert.equal(p.end, IPV6_TCP.length);

  const b = new Uint8Array(40);
  assert.equal(writeIpv6Header(b, 0, HOA, HA, IPPROTO_UDP, 0, 17, 0xb8, 0x12345), 40);
  assert.equal(toHex(b.subarray(0, 8)), '6b812345' + '00001111');
  assert.equal(parseIpv6Header(b, 0, 40, p), true);
  assert.equal(p.trafficClass, 0xb8);
  assert.equal(p.flowLabel, 0x12345);
  assert.equal(p.hopLimit, 17);
});

test('E.3.1: the IRO packet header is produced byte for byte and walks to ESP', () => {
  const pkt = new Uint8Array(108);
  const n = writeIpv6Header(pkt, 0, COA, HA, IPPROTO_ESP, E31_ESP.length);
  pkt.set(E31_ESP, n);
  assert.equal(toHex(pkt.subarray(0, 40)), toHex(E31_IRO_HDR));
  const p = parsed(pkt);
  assert.equal(p.proto, IPPROTO_ESP);
  assert.equal(p.l4Offset, 40);
  assert.equal(p.haoOffset, -1);
  assert.equal(p.rh2Offset, -1);
  assert.equal(p.end, 108);
});

test('E.3.1: the RFC 3776 header chain (DestOpt PadN4 + HAO) is produced byte for byte', () => {
  const pkt = new Uint8Array(132);
  let o = writeIpv6Header(pkt, 0, COA, HA, IPPROTO_DSTOPTS, IPV6_HAO_DSTOPT_LEN + E31_ESP.length);
  o += writeHaoDestOpts(pkt, o, IPPROTO_ESP, HOA);
  assert.equal(o, 64);
  pkt.set(E31_ESP, o);
  assert.equal(toHex(pkt.subarray(0, 64)), toHex(E31_RFC3776_HDR));
  assert.equal(toHex(pkt.subarray(64)), toHex(E31_ESP));
  const p = parsed(pkt);
  assert.equal(p.haoOffset, 48);
  assert.equal(toHex(pkt.subarray(p.haoOffset, p.haoOffset + 16)), toHex(HOA));
  assert.equal(p.proto, IPPROTO_ESP);
  assert.equal(p.l4Offset, 64);
  // RFC 6275 §6.3: a HAO is placed before ESP, so its header stays in clear.
  assert.equal(p.espOffset, 64);
  assert.equal(p.espNextHeaderOffset, 40);
});

test('E.3.2: the IRO BA packet (92 B) and the RFC 3776 one with RH2 (116 B)', () => {
  const iro = new Uint8Array(92);
  const n = writeIpv6Header(iro, 0, HA, COA, IPPROTO_ESP, E32_ESP.length);
  iro.set(E32_ESP, n);
  assert.equal(toHex(iro), toHex(concatBytes(E32_IRO_HDR_START, HA, COA, E32_ESP)));

  const std = new Uint8Array(116);
  let o = writeIpv6Header(std, 0, HA, COA, IPPROTO_ROUTING, IPV6_RH2_LEN + E32_ESP.length);
  o += writeRh2(std, o, IPPROTO_ESP, HOA);
  std.set(E32_ESP, o);
  assert.equal(toHex(std), toHex(concatBytes(E32_RFC3776_HDR_START, HA, COA, E32_RH2_START, HOA, E32_ESP)));
  const p = parsed(std);
  assert.equal(p.rh2Offset, 48);
  assert.equal(p.segmentsLeft, 1);
  assert.equal(p.proto, IPPROTO_ESP);
  assert.equal(p.l4Offset, 64);
  assert.equal(p.espOffset, 64);
  assert.equal(p.espNextHeaderOffset, 40);
});

test('the walk finds HAO and RH2 addresses in Scapy packets, at every placement', () => {
  for (const [bo, o] of PLACEMENTS) {
    const p = newIpv6Packet();
    let { buf, off } = place(IPV6_HAO_TCP, bo, o);
    assert.equal(parseIpv6(buf, off, IPV6_HAO_TCP.length, p), true);
    assert.equal(toHex(buf.subarray(p.haoOffset, p.haoOffset + 16)), toHex(HOA));
    assert.equal(p.proto, IPPROTO_TCP);
    assert.equal(p.l4Offset, off + 64);
    ({ buf, off } = place(IPV6_RH2_UDP, bo, o));
    assert.equal(parseIpv6(buf, off, IPV6_RH2_UDP.length, p), true);
    assert.equal(toHex(buf.subarray(p.rh2Offset, p.rh2Offset + 16)), toHex(HOA));
    assert.equal(p.haoOffset, -1);
    assert.equal(p.proto, IPPROTO_UDP);
    assert.equal(p.l4Offset, off + 64);
  }
});

test('transport-mode split point (PROTOCOL.md F.23)', () => {
  const tcp = new Uint8Array(20);
  // Hop-by-Hop then Destination Options: HbH stays in clear, the final DestOpt goes inside ESP.
  let p = parsed(IPV6_HBH_DST_UDP);
  assert.equal(p.espOffset, 48);
  assert.equal(p.espNextHeaderOffset, 40);
  assert.equal(p.l4Offset, 56);
  assert.equal(p.proto, IPPROTO_UDP);

  // Destination Options only: everything after the fixed header is encrypted.
  p = parsed(chain([[IPPROTO_DSTOPTS, optionsHeader()]], IPPROTO_TCP, tcp));
  assert.equal(p.espOffset, 40);
  assert.equal(p.espNextHeaderOffset, 6);
  assert.equal(p.l4Offset, 48);

  // No extension headers: ESP right after the fixed header, NH byte 6.
  p = parsed(chain([], IPPROTO_TCP, tcp));
  assert.equal(p.espOffset, 40);
  assert.equal(p.espNextHeaderOffset, 6);
  assert.equal(p.l4Offset, 40);

  // HbH, DestOpt (before RH), Routing, Fragment, DestOpt (final): split after the Fragment header.
  p = parsed(
    chain(
      [
        [IPPROTO_HOPOPTS, optionsHeader()],
        [IPPROTO_DSTOPTS, optionsHeader(16)],
        [IPPROTO_ROUTING, routingHeader(0, 0, 1)],
        [IPPROTO_FRAGMENT, fragmentHeader(0, false)],
        [IPPROTO_DSTOPTS, optionsHeader()],
      ],
      IPPROTO_TCP,
      tcp,
    ),
  );
  const fragAt = 40 + 8 + 16 + 24;
  assert.equal(p.espOffset, fragAt + 8);
  assert.equal(p.espNextHeaderOffset, fragAt);
  assert.equal(p.l4Offset, fragAt + 16);
  assert.equal(p.fragment, true);
  assert.equal(p.nonFirstFragment, false);
  assert.equal(p.proto, IPPROTO_TCP);

  // DestOpt before a Type 2 RH stays in clear with it; the DestOpt after goes inside.
  const rh2 = new Uint8Array(24);
  writeRh2(rh2, 0, 0, HOA);
  p = parsed(
    chain(
      [
        [IPPROTO_DSTOPTS, optionsHeader()],
        [IPPROTO_ROUTING, rh2],
        [IPPROTO_DSTOPTS, optionsHeader()],
      ],
      IPPROTO_UDP,
      new Uint8Array(8),
    ),
  );
  assert.equal(p.espOffset, 72);
  assert.equal(p.espNextHeaderOffset, 48);
  assert.equal(p.rh2Offset, 56);
  assert.equal(p.l4Offset, 80);
});

test('fragments: a first fragment walks on, a later one stops with its Next Header', () => {
  let p = parsed(IPV6_FRAG_FIRST_UDP);
  assert.equal(p.fragment, true);
  assert.equal(p.nonFirstFragment, false);
  assert.equal(p.proto, IPPROTO_UDP);
  assert.equal(p.l4Offset, 48);
  assert.equal(p.moreFragments, true);
  p = parsed(IPV6_FRAG_LATER);
  assert.equal(p.fragment, true);
  assert.equal(p.nonFirstFragment, true);
  assert.equal(p.proto, IPPROTO_UDP);
  assert.equal(p.l4Offset, 48);
  assert.equal(p.moreFragments, false);
  // A later fragment whose data happens to look like an extension header is not walked into.
  p = parsed(chain([[IPPROTO_FRAGMENT, fragmentHeader(3, true)]], IPPROTO_DSTOPTS, optionsHeader()));
  assert.equal(p.proto, IPPROTO_DSTOPTS);
  assert.equal(p.l4Offset, 48);
});

test('parseIpv6 rejects malformed chains', () => {
  const tcp = new Uint8Array(20);
  const hao = new Uint8Array(24);
  writeHaoDestOpts(hao, 0, 0, HOA);
  const cases: [string, Uint8Array][] = [
    ['Hop-by-Hop not first', chain([[IPPROTO_DSTOPTS, optionsHeader()], [IPPROTO_HOPOPTS, optionsHeader()]], IPPROTO_TCP, tcp)],
    ['RH2 with Hdr Ext Len 4', chain([[IPPROTO_ROUTING, routingHeader(2, 1, 2)]], IPPROTO_TCP, tcp)],
    ['RH2 with Segments Left 2', chain([[IPPROTO_ROUTING, routingHeader(2, 2, 1)]], IPPROTO_TCP, tcp)],
    ['two RH2', chain([[IPPROTO_ROUTING, routingHeader(2, 1, 1)], [IPPROTO_ROUTING, routingHeader(2, 1, 1)]], IPPROTO_TCP, tcp)],
    ['two HAO headers', chain([[IPPROTO_DSTOPTS, hao], [IPPROTO_DSTOPTS, hao]], IPPROTO_TCP, tcp)],
    ['extension header past the end', chain([[IPPROTO_DSTOPTS, optionsHeader()]], IPPROTO_TCP, new Uint8Array(0)).subarray(0, 44)],
  ];
  const haoLen15 = hao.slice();
  haoLen15[7] = 15;
  cases.push(['HAO length 15', chain([[IPPROTO_DSTOPTS, haoLen15]], IPPROTO_TCP, tcp)]);
  const overrun = optionsHeader();
  overrun[3] = 5; // PadN claims one byte more than the header holds
  cases.push(['option overruns its header', chain([[IPPROTO_DSTOPTS, overrun]], IPPROTO_TCP, tcp)]);
  const twoHaoOneHeader = new Uint8Array(48);
  writeHaoDestOpts(twoHaoOneHeader, 0, 0, HOA);
  twoHaoOneHeader[1] = 5;
  twoHaoOneHeader.set(hao.subarray(2), 24);
  cases.push(['two HAO in one header', chain([[IPPROTO_DSTOPTS, twoHaoOneHeader]], IPPROTO_TCP, tcp)]);
  for (const [name, bytes] of cases) {
    const p = newIpv6Packet();
    // Keep Payload Length consistent with the bytes so only the chain is at fault.
    writeU16(bytes, 4, bytes.length - 40);
    assert.equal(parseIpv6(bytes, 0, bytes.length, p), false, name);
  }
});

test('parseIpv6Header rejects bad version, short input and a payload past the buffer', () => {
  const p = newIpv6Packet();
  const b = IPV6_TCP.slice();
  b[0] = 0x40;
  assert.equal(parseIpv6Header(b, 0, b.length, p), false);
  assert.equal(parseIpv6Header(IPV6_TCP, 0, 39, p), false);
  assert.equal(parseIpv6Header(IPV6_TCP, 0, IPV6_TCP.length - 1, p), false);
  assert.equal(parseIpv6Header(IPV6_TCP, 0, IPV6_TCP.length + 1, p), false);
});
