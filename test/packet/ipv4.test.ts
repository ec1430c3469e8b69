import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromHex, readU16, toHex } from '../../src/util/bytes.js';
import { formatIp } from '../../src/util/addr.js';
import { IPPROTO_UDP, IPV4_OFF_CHECKSUM, IPV4_OFF_DST, IPV4_OFF_ID, IPV4_OFF_SRC } from '../../src/packet/constants.js';
import {
  computeIpv4Checksum,
  fillIpv4Checksum,
  ipv4SetAddress,
  ipv4SetProtocol,
  ipv4SetTotalLength,
  ipv4SetTtl,
  ipv4SetWord,
  newIpv4Header,
  parseIpv4,
  verifyIpv4Checksum,
  writeIpv4Header,
} from '../../src/packet/ipv4.js';
import { VECTORS_FILE } from '../helpers/paths.js';
import { IPV4_FRAG_LATER, IPV4_ICMP, IPV4_TCP, IPV4_UDP_OPTS } from './reference-packets.js';
import { PLACEMENTS, ip, place, prng, randomBytes } from './helpers.js';

test('parseIpv4 reads every field of a header with options, at every placement', () => {
  for (const [bo, o] of PLACEMENTS) {
    const { buf, off } = place(IPV4_UDP_OPTS, bo, o);
    const h = newIpv4Header();
    assert.equal(parseIpv4(buf, off, IPV4_UDP_OPTS.length, h), true);
    assert.equal(h.headerLength, 24);
    assert.equal(h.tos, 0);
    assert.equal(h.totalLength, 40);
    assert.equal(h.id, 0x1234);
    assert.equal(h.dontFragment, true);
    assert.equal(h.moreFragments, false);
    assert.equal(h.fragmentOffset, 0);
    assert.equal(h.ttl, 64);
    assert.equal(h.protocol, IPPROTO_UDP);
    assert.equal(h.checksum, 0xa755);
    assert.equal(h.checksumValid, true);
    assert.equal(formatIp(buf.slice(h.srcOffset, h.srcOffset + 4)), '192.0.2.1');
    assert.equal(formatIp(buf.slice(h.dstOffset, h.dstOffset + 4)), '198.51.100.2');
    assert.equal(h.payloadOffset, off + 24);
    assert.equal(h.payloadLength, 16);
  }
});

test('parseIpv4 reads fragment fields of a non-first fragment', () => {
  const h = newIpv4Header();
  assert.equal(parseIpv4(IPV4_FRAG_LATER, 0, IPV4_FRAG_LATER.length, h), true);
  assert.equal(h.fragmentOffset, 800);
  assert.equal(h.moreFragments, false);
  assert.equal(h.dontFragment, false);
});

test('header checksums match Scapy and RFC 7634 Appendix A', () => {
  assert.equal(computeIpv4Checksum(IPV4_UDP_OPTS, 0), 0xa755);
  assert.equal(computeIpv4Checksum(IPV4_TCP, 0), 0x78e5);
  assert.equal(computeIpv4Checksum(IPV4_ICMP, 0), 0x8e93);
  const vectors = JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as { vectors: { name: string; plain: string }[] };
  const rfc7634 = vectors.vectors.find((v) => v.name === 'RFC 7634 Appendix A');
  assert.ok(rfc7634);
  const inner = fromHex(rfc7634.plain);
  assert.equal(computeIpv4Checksum(inner, 0), 0xe778);
  assert.equal(verifyIpv4Checksum(inner, 0), true);
});

test('writeIpv4Header produces the E.3.3 outer header byte for byte', () => {
  const buf = new Uint8Array(24);
  const n = writeIpv4Header(buf, 2, ip('203.0.113.153'), ip('203.0.113.5'), IPPROTO_UDP, 128, 64, 0x2345, 0, 0);
  assert.equal(n, 20);
  assert.equal(toHex(buf.subarray(2, 22)), '45000094234500004011de74cb007199cb007105');
  assert.equal(buf[0], 0);
  assert.equal(buf[22], 0);
});

test('writeIpv4Header takes the first 4 bytes of a 16-byte address buffer', () => {
  const src = new Uint8Array(16).fill(0xee);
  src.set(ip('192.0.2.7'));
  const buf = new Uint8Array(20);
  writeIpv4Header(buf, 0, src, ip('192.0.2.8'), IPPROTO_UDP, 0);
  const h = newIpv4Header();
  assert.equal(parseIpv4(buf, 0, 20, h), true);
  assert.equal(h.checksumValid, true);
  assert.equal(formatIp(buf.slice(IPV4_OFF_SRC, IPV4_OFF_SRC + 4)), '192.0.2.7');
  assert.equal(formatIp(buf.slice(IPV4_OFF_DST, IPV4_OFF_DST + 4)), '192.0.2.8');
});

test('a corrupted header parses with checksumValid false', () => {
  const b = IPV4_TCP.slice();
  b[IPV4_OFF_ID]! ^= 0x01;
  const h = newIpv4Header();
  assert.equal(parseIpv4(b, 0, b.length, h), true);
  assert.equal(h.checksumValid, false);
  assert.equal(verifyIpv4Checksum(b, 0), false);
  fillIpv4Checksum(b, 0);
  assert.equal(verifyIpv4Checksum(b, 0), true);
});

test('parseIpv4 rejects impossible headers', () => {
  const h = newIpv4Header();
  const cases: [string, (b: Uint8Array) => void, number?][] = [
    ['version 6', (b) => (b[0] = 0x65)],
    ['IHL 4', (b) => (b[0] = 0x44)],
    ['IHL past the buffer', (b) => (b[0] = 0x4f)],
    ['total length below the header', (b) => (b[3] = 19)],
    ['total length past the buffer', (b) => (b[3] = b.length + 1)],
    ['shorter than 20 bytes', () => undefined, 19],
  ];
  for (const [name, mutate, len] of cases) {
    const b = IPV4_TCP.slice();
    mutate(b);
    assert.equal(parseIpv4(b, 0, len ?? b.length, h), false, name);
  }
  assert.equal(parseIpv4(IPV4_TCP, 1, IPV4_TCP.length, h), false, 'range past the array');
  assert.equal(parseIpv4(IPV4_TCP, 0, IPV4_TCP.length + 10, h), false, 'len past the array');
});

test('trailing bytes after Total Length are allowed', () => {
  const b = new Uint8Array(IPV4_TCP.length + 6);
  b.set(IPV4_TCP);
  const h = newIpv4Header();
  assert.equal(parseIpv4(b, 0, b.length, h), true);
  assert.equal(h.totalLength, IPV4_TCP.length);
});

/** A random valid header with IHL 5..15 (random option bytes) and a correct checksum. */
function randomHeader(rand: () => number): Uint8Array {
  const ihl = 5 + Math.floor(rand() * 11);
  const b = randomBytes(rand, ihl * 4);
  b[0] = 0x40 | ihl;
  b[2] = 0;
  b[3] = ihl * 4;
  fillIpv4Checksum(b, 0);
  return b;
}

test('incremental updates equal full recomputation on random headers', () => {
  const rand = prng(0x4a11);
  for (let iter = 0; iter < 2000; iter++) {
    const b = randomHeader(rand);
    const op = iter % 6;
    const v16 = Math.floor(rand() * 0x10000);
    const v8 = Math.floor(rand() * 0x100);
    const addr = randomBytes(rand, 4);
    if (op === 0) ipv4SetTtl(b, 0, v8);
    else if (op === 1) ipv4SetProtocol(b, 0, v8);
    else if (op === 2) ipv4SetTotalLength(b, 0, v16);
    else if (op === 3) ipv4SetAddress(b, 0, IPV4_OFF_SRC, addr);
    else if (op === 4) ipv4SetAddress(b, 0, IPV4_OFF_DST, addr);
    else ipv4SetWord(b, 0, IPV4_OFF_ID, v16);
    const incremental = readU16(b, IPV4_OFF_CHECKSUM);
    assert.equal(incremental, computeIpv4Checksum(b, 0), `iteration ${iter}, op ${op}`);
    assert.equal(verifyIpv4Checksum(b, 0), true);
  }
});

test('the setters change exactly their field', () => {
  const b = IPV4_TCP.slice();
  ipv4SetTtl(b, 0, 1);
  ipv4SetProtocol(b, 0, 50);
  ipv4SetAddress(b, 0, IPV4_OFF_DST, ip('198.51.100.77'));
  const h = newIpv4Header();
  assert.equal(parseIpv4(b, 0, b.length, h), true);
  assert.equal(h.ttl, 1);
  assert.equal(h.protocol, 50);
  assert.equal(h.checksumValid, true);
  assert.equal(formatIp(b.slice(IPV4_OFF_SRC, IPV4_OFF_SRC + 4)), '192.0.2.10');
  assert.equal(formatIp(b.slice(IPV4_OFF_DST, IPV4_OFF_DST + 4)), '198.51.100.77');
  assert.equal(toHex(b.subarray(20)), toHex(IPV4_TCP.subarray(20)));
});
