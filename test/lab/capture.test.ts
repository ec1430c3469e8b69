/**
 * Capture analysis: tshark's view of a known capture (written by Scapy, so every field is known
 * in advance) is parsed into the right stacks, addresses, SPIs and sequence numbers; the wire
 * judgement flags exactly the packets in clear or off the locators; tshark decrypts AES-GCM with
 * the keys and tells a good ICV from a bad one. Then live: tcpdump in a namespace records what
 * `inject` sends, and a replay from that capture resends the same ESP packet. Needs root, tshark,
 * tcpdump and Scapy.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Lab,
  PYTHON,
  classify,
  duplicateSequences,
  ensureTools,
  espSequences,
  inject,
  readPackets,
  runSync,
  startCapture,
  unexpectedPackets,
  type EspSaKey,
} from '../../src/lab/index.js';

ensureTools(['tcpdump', 'tshark', 'scapy']);

const KEY_V4 = Buffer.from('00112233445566778899aabbccddeeff01020304', 'hex');
const KEY_V6 = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0a0b0c0d', 'hex');
const SAS: EspSaKey[] = [
  { spi: 0x1001, cipher: 'aes128gcm16', keymat: KEY_V4 },
  { spi: 0x2002, cipher: 'aes256gcm16', keymat: KEY_V6 },
];
const LOCATORS = ['203.0.113.1', '203.0.113.2', '2001:db8:1::1', '2001:db8:1::2'];

/** Frames of the known capture, in order (the comment gives the frame number). */
const KNOWN_CAPTURE = String.raw`
import sys
from scapy.all import ARP, Ether, ICMP, IP, IPv6, Raw, UDP, raw, wrpcap
from scapy.layers.inet6 import ICMPv6EchoRequest, ICMPv6ND_NS
from scapy.layers.ipsec import ESP, SecurityAssociation
k4, k6, out = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3]
A, B = "203.0.113.1", "203.0.113.2"
sa4 = SecurityAssociation(ESP, spi=0x1001, crypt_algo="AES-GCM", crypt_key=k4, tunnel_header=IP(src=A, dst=B))
sa6 = SecurityAssociation(ESP, spi=0x2002, crypt_algo="AES-GCM", crypt_key=k6,
                          tunnel_header=IPv6(src="2001:db8:1::1", dst="2001:db8:1::2"))
def esp4(seq):
    inner = IP(src="198.51.100.10", dst="192.0.2.2") / ICMP(type=8, id=7, seq=seq) / Raw(b"\xab\xcd" * 16)
    return raw(sa4.encrypt(inner, seq_num=seq)[ESP])
def udp(src, dst, payload):
    return Ether() / IP(src=src, dst=dst) / UDP(sport=4500, dport=4500) / Raw(payload)
bad = bytearray(esp4(4)); bad[-1] ^= 1
e6 = sa6.encrypt(IPv6(src="2001:db8:100::10", dst="2001:db8:2::2") / ICMPv6EchoRequest() / Raw(b"v6"), seq_num=7)
frames = [
    udp(A, B, esp4(1)),                                                   # 1 ESP-in-UDP
    udp(A, B, esp4(2)),                                                   # 2
    udp(A, B, esp4(2)),                                                   # 3 the same sequence number again
    Ether() / IP(src=A, dst=B, proto=50) / Raw(esp4(3)),                  # 4 bare ESP
    udp(A, B, b"\xff"),                                                   # 5 NAT keepalive
    Ether() / IP(src="198.51.100.10", dst="192.0.2.2") / ICMP(),          # 6 inner packet in clear
    Ether() / IPv6(src="2001:db8:1::1", dst="2001:db8:1::2", nh=50) / Raw(raw(e6[ESP])),  # 7 ESP over IPv6
    Ether() / IP(src=B, dst=A) / ICMP(type=3, code=3) / IP(src=A, dst=B) / UDP(sport=4500, dport=4500) / Raw(esp4(5)[:8]),  # 8
    Ether() / ARP(psrc=A, pdst=B),                                        # 9
    Ether() / IPv6(src="2001:db8:1::1", dst="2001:db8:1::2") / ICMPv6ND_NS(tgt="2001:db8:1::2"),  # 10
    udp(A, B, bytes(bad)),                                                # 11 bad ICV
    udp("192.0.2.9", B, esp4(6)),                                         # 12 ESP from elsewhere
]
wrpcap(out, frames)
`;

function writeKnownCapture(dir: string): string {
  const file = join(dir, 'known.pcap');
  runSync(PYTHON, ['-c', KNOWN_CAPTURE, KEY_V4.toString('hex'), KEY_V6.toString('hex'), file]);
  return file;
}

test('a known capture is parsed, judged and decrypted as written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iro-lab-known-'));
  try {
    const file = writeKnownCapture(dir);
    const packets = await readPackets(file);
    assert.deepEqual(packets.map((p) => p.frame), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.deepEqual(packets.map(classify), [
      'esp-in-udp', 'esp-in-udp', 'esp-in-udp', 'esp', 'nat-keepalive', 'other', 'esp', 'icmp-error',
      'link-control', 'link-control', 'esp-in-udp', 'esp-in-udp',
    ]);
    const p1 = packets[0]!;
    assert.deepEqual(p1.protocols, ['eth', 'ethertype', 'ip', 'udp', 'udpencap', 'esp']);
    assert.deepEqual(p1.ip, [{ family: 4, src: '203.0.113.1', dst: '203.0.113.2' }]);
    assert.deepEqual(p1.udp, { srcPort: 4500, dstPort: 4500 });
    assert.deepEqual(p1.esp, { spi: 0x1001, seq: 1 });
    assert.equal(p1.icvGood, null, 'no SAs given: no verdict');
    assert.equal(p1.inner, null);
    assert.deepEqual(packets[6]!.esp, { spi: 0x2002, seq: 7 });
    assert.equal(packets[6]!.ip[0]!.family, 6);

    const bad = unexpectedPackets(packets, LOCATORS);
    assert.deepEqual(bad.map((u) => u.packet.frame), [6, 12]);
    assert.match(bad[0]!.reason, /198\.51\.100\.10 -> 192\.0\.2\.2 is not between the locators/);
    assert.deepEqual(unexpectedPackets(packets.filter((p) => p.frame !== 6 && p.frame !== 12), LOCATORS), []);
    // Between the locators but in clear: flagged as such.
    const clear = unexpectedPackets(packets, ['198.51.100.10', '192.0.2.2', ...LOCATORS]);
    assert.deepEqual(clear.map((u) => u.packet.frame), [6, 12]);
    assert.match(clear[0]!.reason, /carries eth:ethertype:ip:icmp in clear/);

    assert.deepEqual(espSequences(packets).get(0x1001), [1, 2, 2, 3, 4, 6]);
    assert.deepEqual(duplicateSequences(packets, 0x1001), [2]);
    assert.deepEqual(duplicateSequences(packets, 0x2002), []);

    const dec = await readPackets(file, { sas: SAS });
    const d1 = dec[0]!;
    assert.equal(d1.icvGood, true);
    assert.deepEqual(d1.inner, { family: 4, src: '198.51.100.10', dst: '192.0.2.2' });
    assert.deepEqual(d1.innerProtocols, ['icmp', 'data']);
    assert.deepEqual(d1.icmpTypes, [8]);
    assert.equal(d1.data[0], 'abcd'.repeat(16));
    assert.deepEqual(d1.esp, { spi: 0x1001, seq: 1 }, 'the outer ESP header is still the first one');
    assert.equal(dec[3]!.icvGood, true, 'bare ESP decrypts too');
    assert.deepEqual(dec[6]!.inner, { family: 6, src: '2001:db8:100::10', dst: '2001:db8:2::2' });
    assert.equal(dec[6]!.icvGood, true);
    assert.equal(dec[10]!.icvGood, false, 'the flipped ICV bit is detected');
    // A wrong key: tshark's verdict is "bad" for every packet of that SA.
    const wrong = await readPackets(file, { sas: [{ ...SAS[0]!, keymat: Buffer.alloc(20, 7) }], displayFilter: 'esp.spi == 0x1001' });
    assert.deepEqual(wrong.map((p) => p.frame), [1, 2, 3, 4, 8, 11, 12], 'the display filter picks the frames');
    const own = wrong.filter((p) => p.esp !== null);
    assert.equal(own.length, 6);
    assert.ok(own.every((p) => p.icvGood === false));
    await assert.rejects(readPackets(file, { sas: [{ ...SAS[0]!, keymat: Buffer.alloc(16) }] }), RangeError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('live: tcpdump records what inject sends, and a replay resends the same ESP packet', async () => {
  const lab = new Lab();
  try {
    const a = lab.netns('a');
    const b = lab.netns('b');
    lab.link(a, b, { nameA: 'e0', nameB: 'e0' });
    a.addAddress('e0', '203.0.113.1/24');
    b.addAddress('e0', '203.0.113.2/24');
    a.addAddress('e0', '2001:db8:1::1/64');
    b.addAddress('e0', '2001:db8:1::2/64');
    const cap = await startCapture(b, 'e0');
    const sentUdp = await inject(a, { address: '203.0.113.2', port: 4500 }, [
      { kind: 'random-spi', count: 2 },
      { kind: 'bad-icv', spi: 0x1001, seq: 10, cipher: 'aes128gcm16', keymat: KEY_V4, innerSrc: '198.51.100.10', innerDst: '192.0.2.2' },
    ]);
    const sentRaw = await inject(a, { address: '2001:db8:1::2', port: null }, [{ kind: 'random-spi', spi: 0x7777, count: 1 }]);
    await a.ping('203.0.113.2', { count: 1 });
    const stats = await cap.stop();
    assert.ok(stats.captured >= 4, `captured ${stats.captured}`);

    assert.equal(sentUdp.length, 3);
    assert.ok(sentUdp.slice(0, 2).every((s) => s.kind === 'random-spi' && s.spi >= 0x80000000 && s.seq === 1));
    assert.deepEqual({ ...sentUdp[2], bytes: 0 }, { kind: 'bad-icv', spi: 0x1001, seq: 10, bytes: 0 });
    assert.deepEqual(sentRaw.map((s) => [s.spi, s.seq]), [[0x7777, 1]]);

    const packets = await readPackets(cap.file, { sas: [SAS[0]!] });
    const esp = packets.filter((p) => p.esp !== null);
    assert.deepEqual(esp.map((p) => [p.esp!.spi, p.esp!.seq]), [...sentUdp, ...sentRaw].map((s) => [s.spi, s.seq]));
    assert.deepEqual(esp.map(classify), ['esp-in-udp', 'esp-in-udp', 'esp-in-udp', 'esp']);
    const badIcv = esp[2]!;
    assert.equal(badIcv.icvGood, false);
    assert.deepEqual(badIcv.inner, { family: 4, src: '198.51.100.10', dst: '192.0.2.2' }, 'Scapy sealed a real inner packet');
    assert.deepEqual(esp[3]!.ip[0], { family: 6, src: '2001:db8:1::1', dst: '2001:db8:1::2' });

    const cap2 = await startCapture(b, 'e0', { filter: 'udp port 4500' });
    const replayed = await inject(a, { address: '203.0.113.2', port: 4500 }, [{ kind: 'replay', pcap: cap.file, spi: 0x1001, count: 2 }]);
    await cap2.stop();
    assert.deepEqual(replayed.map((r) => [r.spi, r.seq, r.bytes]), [[0x1001, 10, sentUdp[2]!.bytes], [0x1001, 10, sentUdp[2]!.bytes]]);
    const again = await readPackets(cap2.file);
    assert.deepEqual(again.map((p) => p.esp), [{ spi: 0x1001, seq: 10 }, { spi: 0x1001, seq: 10 }]);
    assert.deepEqual(duplicateSequences(again, 0x1001), [10]);
    await assert.rejects(inject(a, { address: '203.0.113.2', port: 4500 }, [{ kind: 'replay', pcap: cap.file, spi: 0xdead }]), {
      code: 'ERR_IO',
      message: /no full-length ESP packet with SPI 0x0000dead/,
    });
  } finally {
    assert.deepEqual(await lab.teardown(), []);
  }
});
