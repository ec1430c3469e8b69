/**
 * Two dataplanes joined by in-memory fakes (io/memory.ts): real config parsing, real SAD/SPD
 * built by the daemon's table builder, real ESP on the main-thread crypto engine. No privileges.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, noKeyFiles } from '../../src/config/index.js';
import { buildTables, type Tables } from '../../src/cli/daemon/tables.js';
import { Dataplane } from '../../src/dataplane/dataplane.js';
import type { DataplanePeer, MhArrivalInfo, TransportTable } from '../../src/dataplane/types.js';
import { MemoryLink, memoryTransportPair, type MemoryTransport } from '../../src/io/memory.js';
import type { Transport } from '../../src/io/ports.js';
import { DEFAULT_HEADROOM } from '../../src/packet/batch.js';
import { IPPROTO_FRAGMENT, IPPROTO_MH, IPPROTO_TCP, IPPROTO_UDP } from '../../src/packet/constants.js';
import { writeIpv4Header } from '../../src/packet/ipv4.js';
import { writeIpv6Header } from '../../src/packet/ipv6.js';
import { fillPacketChecksum, verifyPacketChecksum } from '../../src/packet/l4checksum.js';
import { writeBindingRefreshRequest } from '../../src/packet/mh.js';
import { CryptoPool } from '../../src/pool/index.js';
import { KeyTable } from '../../src/pool/keytable.js';
import { StateStore } from '../../src/state/index.js';
import { parseIp } from '../../src/util/addr.js';
import { bytesEqual, toHex } from '../../src/util/bytes.js';
import { Drop } from '../../src/util/drop.js';
import { silentLogger } from '../../src/util/log.js';

const KEY_A = '101112131415161718191a1b1c1d1e1f20212223';
const KEY_B = '303132333435363738393a3b3c3d3e3f40414243';
const KEY_C = '505152535455565758595a5b5c5d5e5f60616263';
const KEY_D = '707172737475767778797a7b7c7d7e7f80818283';

const MN_CONF = `[Interface]
Role = mobile-node
HomeAddress = 2001:db8:100::10/128, 192.0.2.10/32
[Peer]
Name = home
Role = home-agent
Identity = 2001:db8:100::1
Endpoint = 198.51.100.1:4500
AllowedIPs = 203.0.113.0/24, 2001:db8:200::/64
SPIOut = 0x1001
SPIIn = 0x2001
KeyOut = ${KEY_A}
KeyIn = ${KEY_B}
[Peer]
Name = cn
Role = correspondent
Identity = 2001:db8:300::1
Endpoint = 198.51.100.3:4500
RouteOptimization = on
SPIOut = 0x3001
SPIIn = 0x4001
KeyOut = ${KEY_C}
KeyIn = ${KEY_D}
`;

const HA_CONF = `[Interface]
Role = home-agent
Address = 2001:db8:100::1/128, 192.0.2.1/32
HomePrefix = 2001:db8:100::/64, 192.0.2.0/24
[Peer]
Name = mn
HomeAddress = 2001:db8:100::10, 192.0.2.10
Endpoint = 198.51.100.2:4500
SPIOut = 0x2001
SPIIn = 0x1001
KeyOut = ${KEY_B}
KeyIn = ${KEY_A}
`;

const CN_CONF = `[Interface]
Role = correspondent
Address = 2001:db8:300::1/128
[Peer]
Name = mn
HomeAddress = 2001:db8:100::10
RouteOptimization = on
SPIOut = 0x4001
SPIIn = 0x3001
KeyOut = ${KEY_D}
KeyIn = ${KEY_C}
`;

interface Node {
  tables: Tables;
  link: MemoryLink;
  dp: Dataplane;
  mh: { peer: string; mh: Uint8Array; arrival: MhArrivalInfo }[];
  pool: CryptoPool;
}

function addr(s: string): Uint8Array {
  return parseIp(s)!;
}

function table(...ts: Transport[]): TransportTable {
  return { all: ts, pick: (encap, family) => ts.find((t) => t.family === family && (encap === 'udp') === (t.kind === 'udp')) ?? null };
}

function node(dir: string, conf: string, file: string, transport: MemoryTransport): Node {
  const config = parseConfig(conf, file, noKeyFiles);
  const keys = new KeyTable(64);
  const tables = buildTables(config, { keys, state: StateStore.open(dir, config.interfaceName), backend: 'node' });
  const link = new MemoryLink({ name: config.interfaceName });
  const pool = new CryptoPool({ threads: 0, keys, backend: 'node' });
  const mh: Node['mh'] = [];
  const dp = new Dataplane({
    link,
    transports: table(transport),
    crypto: pool,
    sad: tables.sad,
    spd: tables.spd,
    peers: tables.peers,
    identities: tables.identities,
    listenPort: 4500,
    layout: { capacity: 16, slotSize: 2048, headroom: DEFAULT_HEADROOM },
    maxInflight: 2,
    reservation: (sa) => tables.reservations.get(sa.slot),
    onMh: (peer: DataplanePeer, bytes: Uint8Array, arrival: MhArrivalInfo) => mh.push({ peer: peer.name, mh: bytes, arrival }),
    log: silentLogger,
  });
  dp.start();
  return { tables, link, dp, mh, pool };
}

function peerOf(n: Node, name: string): DataplanePeer {
  return n.tables.peers.find((p) => p.name === name)!;
}

/** Points the SAs of `peer` at `remote` (what the mobility agent does after a binding). */
function locate(n: Node, name: string, remote: string, local?: string): void {
  const p = peerOf(n, name);
  for (const sa of [p.payloadOut, p.payloadIn, p.signalOut, p.signalIn]) {
    n.tables.sad.updateLocators(sa, { peer: addr(remote), ...(local ? { local: addr(local) } : {}) });
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

function tcp4(src: string, dst: string, payload: number): Uint8Array {
  const b = new Uint8Array(20 + 20 + payload);
  writeIpv4Header(b, 0, addr(src), addr(dst), IPPROTO_TCP, 20 + payload);
  b.set([0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff], 20);
  for (let i = 0; i < payload; i++) b[40 + i] = i & 0xff;
  fillPacketChecksum(b, 0, b.length);
  return b;
}

function tcp6(src: string, dst: string, payload: number): Uint8Array {
  const b = new Uint8Array(40 + 20 + payload);
  writeIpv6Header(b, 0, addr(src), addr(dst), IPPROTO_TCP, 20 + payload);
  b.set([0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff], 40);
  for (let i = 0; i < payload; i++) b[60 + i] = (i * 7) & 0xff;
  fillPacketChecksum(b, 0, b.length);
  return b;
}

async function lab(fn: (mn: Node, ha: Node, wire: [MemoryTransport, MemoryTransport]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'iro-dp-'));
  const wire = memoryTransportPair({ family: 4, addresses: [addr('198.51.100.2')] }, { family: 4, addresses: [addr('198.51.100.1')] });
  const mn = node(dir, MN_CONF, 'mn0.conf', wire[0]);
  const ha = node(dir, HA_CONF, 'ha0.conf', wire[1]);
  locate(mn, 'home', '198.51.100.1', '198.51.100.2');
  locate(ha, 'mn', '198.51.100.2');
  try {
    await fn(mn, ha, wire);
  } finally {
    await mn.dp.stop(100);
    await ha.dp.stop(100);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('tunnel mode carries IPv4 and IPv6 inner packets byte for byte, both ways', async () => {
  await lab(async (mn, ha) => {
    const up4 = tcp4('192.0.2.10', '203.0.113.1', 1000);
    const up6 = tcp6('2001:db8:100::10', '2001:db8:200::1', 1200);
    mn.link.inject(up4);
    mn.link.inject(up6);
    await settle();
    assert.equal(ha.link.written.length, 2);
    assert.equal(toHex(ha.link.written[0]!), toHex(up4));
    assert.equal(toHex(ha.link.written[1]!), toHex(up6));
    const down = tcp4('203.0.113.1', '192.0.2.10', 500);
    ha.link.inject(down);
    await settle();
    assert.deepEqual(mn.link.written.map(toHex), [toHex(down)]);
    const out = peerOf(mn, 'home').payloadOut;
    assert.equal(out.packets, 2);
    assert.equal(out.seq!.lo, 2, 'sequence numbers assigned in packet order from 1');
    assert.equal(peerOf(ha, 'mn').payloadIn.replay!.topLo, 2);
  });
});

test('packets outside every policy are dropped and counted as no_policy', async () => {
  await lab(async (mn, ha) => {
    mn.link.inject(tcp4('192.0.2.10', '198.51.100.77', 10));
    await settle();
    assert.equal(ha.link.written.length, 0);
    assert.equal(mn.dp.counters.dropsOut[Drop.NO_POLICY], 1);
  });
});

test('forged, tampered and replayed ESP is dropped by reason and moves nothing', async () => {
  await lab(async (mn, ha, wire) => {
    const [mnSide, haSide] = wire;
    mn.link.inject(tcp4('192.0.2.10', '203.0.113.1', 100));
    await settle();
    assert.equal(ha.link.written.length, 1);
    // Capture what the MN sent by sending again with the HA side detached.
    haSide.peer = null;
    mnSide.peer = null;
    mn.link.inject(tcp4('192.0.2.10', '203.0.113.1', 100));
    await settle();
    const captured = mnSide.sent[0]!.data;
    mnSide.peer = haSide;
    haSide.peer = mnSide;
    const before = peerOf(ha, 'mn').payloadOut.peerLocator!.slice();
    const attacker = addr('203.0.113.66');
    haSide.deliver(captured, attacker, 4500);
    const tampered = captured.slice();
    tampered[tampered.length - 1]! ^= 1;
    tampered[7]! += 1; // a fresh sequence number, so only the ICV can reject it
    haSide.deliver(tampered, attacker, 4500);
    const unknown = captured.slice();
    unknown.set([0xde, 0xad, 0xbe, 0xef], 0);
    haSide.deliver(unknown, attacker, 4500);
    const reserved = captured.slice();
    reserved.set([0, 0, 0, 7], 0);
    haSide.deliver(reserved, attacker, 4500);
    await settle();
    const d = ha.dp.counters.dropsIn;
    assert.equal(d[Drop.AUTH_FAILED], 1);
    assert.equal(d[Drop.NO_SA], 1);
    assert.equal(d[Drop.SPI_RESERVED], 1);
    assert.equal(d[Drop.REPLAY], 0, 'the first copy of the captured packet is new to the HA');
    assert.equal(ha.link.written.length, 2, 'the captured packet itself was authentic and new');
    assert.ok(bytesEqual(peerOf(ha, 'mn').payloadOut.peerLocator!, before), 'an ESP packet from a new address moves nothing');
    haSide.deliver(captured, attacker, 4500);
    await settle();
    assert.equal(d[Drop.REPLAY], 1);
    assert.equal(ha.link.written.length, 2);
  });
});

test('Mobility Headers arriving in the signalling SA go to signalling, not to the link', async () => {
  await lab(async (mn, ha) => {
    const hoa = addr('2001:db8:100::10');
    const haId = addr('2001:db8:100::1');
    const pkt = new Uint8Array(40 + 16);
    const n = writeBindingRefreshRequest(pkt, 40, undefined, haId, hoa);
    writeIpv6Header(pkt, 0, haId, hoa, IPPROTO_MH, n);
    ha.dp.sendInternal(pkt.subarray(0, 40 + n));
    await settle();
    assert.equal(mn.link.written.length, 0);
    assert.equal(mn.mh.length, 1);
    assert.equal(mn.mh[0]!.peer, 'home');
    assert.equal(toHex(mn.mh[0]!.mh), toHex(pkt.subarray(40, 40 + n)));
    assert.equal(toHex(mn.mh[0]!.arrival.identitySrc), toHex(haId));
    assert.equal(peerOf(ha, 'mn').signalOut.packets, 1, 'it used the signalling SA');
    assert.equal(peerOf(ha, 'mn').payloadOut.packets, 0);
  });
});

test('transport mode with route optimization restores identities; checksums verify over them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iro-dp-'));
  const wire = memoryTransportPair({ family: 6, addresses: [addr('2001:db8:ffff::10')] }, { family: 6, addresses: [addr('2001:db8:300::1')] });
  const mn = node(dir, MN_CONF, 'mn0.conf', wire[0]);
  const cn = node(dir, CN_CONF, 'cn0.conf', wire[1]);
  try {
    // After the CoA test: the MN sends from its CoA, the CN sends to it.
    const p = peerOf(mn, 'cn');
    for (const sa of [p.payloadOut, p.payloadIn]) mn.tables.sad.updateLocators(sa, { local: addr('2001:db8:ffff::10') });
    p.viaHome = false;
    locate(cn, 'mn', '2001:db8:ffff::10');
    const up = tcp6('2001:db8:100::10', '2001:db8:300::1', 700);
    mn.link.inject(up);
    await settle();
    assert.equal(cn.link.written.length, 1);
    const got = cn.link.written[0]!;
    assert.equal(got[7], 64, 'hop limit of a restored packet');
    got[7] = up[7]!;
    assert.equal(toHex(got), toHex(up), 'the CN sees the HoA, not the CoA');
    assert.ok(verifyPacketChecksum(got, 0, got.length));
    const down = tcp6('2001:db8:300::1', '2001:db8:100::10', 300);
    cn.link.inject(down);
    await settle();
    assert.equal(mn.link.written.length, 1);
    assert.ok(verifyPacketChecksum(mn.link.written[0]!, 0, mn.link.written[0]!.length));
    // An IPv6 fragment (the kernel fragments what exceeds the TUN MTU): its Fragment header
    // travels inside ESP and comes out unchanged, for the receiver's kernel to reassemble.
    const frag = new Uint8Array(40 + 8 + 64);
    writeIpv6Header(frag, 0, addr('2001:db8:100::10'), addr('2001:db8:300::1'), IPPROTO_FRAGMENT, 8 + 64);
    frag.set([IPPROTO_UDP, 0, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78], 40);
    for (let i = 0; i < 64; i++) frag[48 + i] = i;
    mn.link.inject(frag);
    await settle();
    assert.equal(cn.link.written.length, 2);
    const gotFrag = cn.link.written[1]!;
    gotFrag[7] = frag[7]!;
    assert.equal(toHex(gotFrag), toHex(frag));
  } finally {
    await mn.dp.stop(100);
    await cn.dp.stop(100);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('safe by default: before the CN verified the CoA, MN-CN payload goes into the home tunnel', async () => {
  await lab(async (mn, ha) => {
    assert.equal(peerOf(mn, 'cn').viaHome, true);
    mn.link.inject(tcp6('2001:db8:100::10', '2001:db8:300::1', 64));
    await settle();
    await settle();
    assert.equal(peerOf(mn, 'cn').payloadOut.packets, 1, 'sealed in the MN-CN SA');
    assert.equal(peerOf(mn, 'home').payloadOut.packets, 1, 'then carried by the home tunnel');
    const inner = ha.link.written[0]!;
    assert.equal(inner[6], 17, 'the HA decapsulates ESP-in-UDP from the HoA to the CN');
    assert.equal(toHex(inner.subarray(8, 24)), toHex(addr('2001:db8:100::10')));
    assert.equal(toHex(inner.subarray(24, 40)), toHex(addr('2001:db8:300::1')));
  });
});
