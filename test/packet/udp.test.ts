import test from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '../../src/util/bytes.js';
import { newUdpHeader, parseUdp, writeUdpHeader } from '../../src/packet/udp.js';
import { PLACEMENTS, place } from './helpers.js';
import { IPV6_UDP } from './reference-packets.js';

test('parseUdp reads the Scapy datagram at every placement', () => {
  const udp = IPV6_UDP.subarray(40);
  for (const [bo, o] of PLACEMENTS) {
    const { buf, off } = place(udp, bo, o);
    const h = newUdpHeader();
    assert.equal(parseUdp(buf, off, udp.length, h), true);
    assert.equal(h.srcPort, 5353);
    assert.equal(h.dstPort, 53);
    assert.equal(h.length, 19);
    assert.equal(h.checksum, 0x4b6e);
    assert.equal(h.payloadOffset, off + 8);
    assert.equal(h.payloadLength, 11);
  }
});

test('writeUdpHeader produces the E.3.3 RFC 3948 header', () => {
  const b = new Uint8Array(10);
  assert.equal(writeUdpHeader(b, 1, 4500, 4500, 120), 8);
  assert.equal(toHex(b), '00' + '1194119400800000' + '00');
});

test('parseUdp rejects a Length field below 8 or past the datagram', () => {
  const h = newUdpHeader();
  const b = new Uint8Array(12);
  writeUdpHeader(b, 0, 1, 2, 4);
  assert.equal(parseUdp(b, 0, 12, h), true);
  assert.equal(parseUdp(b, 0, 11, h), false);
  b[5] = 7;
  assert.equal(parseUdp(b, 0, 12, h), false);
  assert.equal(parseUdp(b, 0, 7, h), false);
  assert.equal(parseUdp(b, 5, 12, h), false);
});
