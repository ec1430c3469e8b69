/**
 * End-to-end route optimization (PROTOCOL.md A.5, A.7, A.10): the mobile node (mn0), its home agent
 * (ha0) and a correspondent (cn0) that runs iro with a transport-mode SA to the mobile node's home
 * address, in the roaming lab (src/lab/roaming.ts), IPv6 care-of addresses.
 *
 * 1. `RouteOptimization = on` at both ends: the correspondent's first packet to the care-of address
 *    is the CoA test (MH type 11, inside the SA); from then on the MN-CN traffic (TCP both ways,
 *    ping) goes directly between the care-of address and the correspondent: the capture on the
 *    correspondent's link shows it there, the capture on the home agent's link shows none of it, and
 *    the home agent's SAs carry almost nothing. After a move to access B the same holds for the new
 *    care-of address, once the correspondent has tested it.
 * 2. `RouteOptimization = off` at both ends: the same traffic goes through the home agent: between
 *    the correspondent and the home address on both links, never to or from a care-of address.
 *
 * Sizes: 20 MB each way per phase (thousands of full-size packets: enough to tell a path from
 * noise), on access links shaped to 100 Mbit/s; the file takes about a minute.
 *
 * Needs root, the native addon, dist/ built (bin/iro.js), tcpdump and tshark.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  IroDaemon,
  Lab,
  ROAMING,
  ROAMING_SPI,
  buildRoamingTopology,
  ensureTools,
  findSa,
  startCapture,
  transfer,
  tsharkFields,
  waitForBinding,
  writeRoamingConfigs,
  type Capture,
  type EspSaKey,
  type RoamingConfigs,
  type RoamingTopology,
} from '../../src/lab/index.js';

const { identity } = ROAMING;
const MB = 1_000_000;
const BYTES = 20 * MB;
const ACCESS_MBIT = 100;
const SNAPLEN = 256;
const TEST_TIMEOUT_MS = 180_000;
const TRANSFER_TIMEOUT_MS = 90_000;
/** The home agent's SAs may carry this share of the MN-CN packets (neighbour discovery, MLD) and still count as "none of it". */
const STRAY_SHARE = 0.01;

ensureTools(['tcpdump', 'tshark', 'ping']);

interface Setup {
  readonly topo: RoamingTopology;
  readonly cfg: RoamingConfigs;
  readonly ha: IroDaemon;
  readonly cn: IroDaemon;
  readonly mn: IroDaemon;
  /** On the internet router's links to the correspondent and to the home agent, from before any daemon started. */
  readonly capCn: Capture;
  readonly capHa: Capture;
}

/** Builds the lab, starts the captures, then iro in the HA, the CN and the MN; tears down whatever happens. */
async function withSetup(ro: 'on' | 'off', body: (s: Setup) => Promise<void>): Promise<void> {
  const lab = new Lab();
  let problems: string[] = [];
  try {
    const topo = buildRoamingTopology(lab, { accessMbit: ACCESS_MBIT });
    const dir = lab.tempDir('iro');
    const cfg = writeRoamingConfigs(dir, topo, { family: 6, correspondent: ro, esn: false });
    const capCn = await startCapture(topo.inet, topo.inetDev.cn, { snaplen: SNAPLEN });
    const capHa = await startCapture(topo.inet, topo.inetDev.ha, { snaplen: SNAPLEN });
    const ha = IroDaemon.start(topo.ha, cfg.ha, { runDir: dir });
    await ha.ready();
    const cn = IroDaemon.start(topo.cn, cfg.cn!, { runDir: dir });
    await cn.ready();
    const mn = IroDaemon.start(topo.mn, cfg.mn, { runDir: dir });
    await mn.ready();
    await waitForBinding(ha, cfg.peerNames.mn, topo.careOf(6));
    await body({ topo, cfg, ha, cn, mn, capCn, capHa });
  } finally {
    problems = await lab.teardown();
  }
  assert.deepEqual(problems, [], 'lab teardown');
}

/** TCP both ways between the correspondent and the home address, then a ping; asserts the bytes arrived intact. */
async function traffic(s: Setup): Promise<void> {
  const cn6 = s.topo.cnAddress(6);
  const down = await transfer({ from: s.topo.cn, to: s.topo.mn, address: identity.hoa6, sourceAddress: cn6, bytes: BYTES, timeoutMs: TRANSFER_TIMEOUT_MS });
  const up = await transfer({ from: s.topo.mn, to: s.topo.cn, address: cn6, sourceAddress: identity.hoa6, bytes: BYTES, timeoutMs: TRANSFER_TIMEOUT_MS });
  for (const [what, out] of [['correspondent -> home address', down], ['home address -> correspondent', up]] as const) {
    assert.equal(out.received.bytes, BYTES, `${what}: byte count`);
    assert.equal(out.received.sha256, out.expected.sha256, `${what}: the bytes differ`);
  }
  assert.equal(down.received.remoteAddress, cn6, 'the MN sees the correspondent');
  assert.equal(up.received.remoteAddress, identity.hoa6, 'the correspondent sees the home address, not the care-of address');
  const p = await s.topo.cn.ping(identity.hoa6, { count: 5, source: cn6, deadlineSeconds: 15 });
  assert.equal(p.received, 5, p.output);
}

/** Packets the home agent's SAs with the MN carried so far (both ways). */
async function tunnelPackets(ha: IroDaemon): Promise<number> {
  const show = await ha.show();
  return [ROAMING_SPI.haToMn, ROAMING_SPI.mnToHa].reduce((n, spi) => n + findSa(show, spi).packets, 0);
}

interface Frame {
  readonly time: number;
  readonly src: string;
  readonly dst: string;
  readonly spi: number | null;
  readonly mhType: number | null;
}

/** The IPv6 frames of a capture; the MN-CN SA decrypted, so Mobility Headers inside it show. */
async function frames(file: string, cfg: RoamingConfigs): Promise<Frame[]> {
  const sas: EspSaKey[] = [cfg.mnToCn!, cfg.cnToMn!].map((x) => ({ spi: x.spi, cipher: 'aes128gcm16' as const, keymat: x.keymat }));
  const rows = await tsharkFields(file, ['frame.time_epoch', 'ipv6.src', 'ipv6.dst', 'esp.spi', 'mip6.mhtype'], { sas, displayFilter: 'ipv6' });
  return rows.map((f) => ({
    time: Number(f['frame.time_epoch']![0]),
    src: f['ipv6.src']![0]!,
    dst: f['ipv6.dst']![0]!,
    spi: f['esp.spi']![0] === undefined ? null : Number(f['esp.spi']![0]),
    mhType: f['mip6.mhtype']![0] === undefined ? null : Number(f['mip6.mhtype']![0]),
  }));
}

function between(list: readonly Frame[], a: string, b: string): Frame[] {
  return list.filter((x) => (x.src === a && x.dst === b) || (x.src === b && x.dst === a));
}

function touching(list: readonly Frame[], a: string): Frame[] {
  return list.filter((x) => x.src === a || x.dst === a);
}

test('route optimization on: after the CoA test the MN-CN traffic goes directly between care-of address and correspondent, also after a move', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withSetup('on', async (s) => {
    const { topo, cfg } = s;
    const cn6 = topo.cnAddress(6);
    const phases: { coa: string; from: number; to: number }[] = [];
    for (const at of ['A', 'B'] as const) {
      if (at !== topo.at) {
        topo.move(at);
        await waitForBinding(s.ha, cfg.peerNames.mn, topo.careOf(6));
      }
      await waitForBinding(s.cn, cfg.peerNames.mn, topo.careOf(6), { verified: true });
      const before = await tunnelPackets(s.ha);
      const from = Date.now() / 1000;
      await traffic(s);
      const to = Date.now() / 1000;
      phases.push({ coa: topo.careOf(6), from, to });
      const stray = (await tunnelPackets(s.ha)) - before;
      assert.ok(stray < STRAY_SHARE * (BYTES / 1500), `the home agent's SAs carried ${stray} packets while the correspondent traffic ran (access ${at})`);
      const peer = (await s.mn.show()).peers?.find((p) => p.name === cfg.peerNames.cn);
      assert.equal(peer?.viaHome, false, 'the MN sends to the correspondent directly');
    }
    await s.capCn.stop();
    await s.capHa.stop();

    const cnLink = await frames(s.capCn.file, cfg);
    const haLink = await frames(s.capHa.file, cfg);
    for (const p of phases) {
      const inPhase = (list: readonly Frame[]): Frame[] => list.filter((x) => x.time >= p.from && x.time <= p.to);
      const direct = between(inPhase(cnLink), p.coa, cn6);
      const down = direct.filter((x) => x.spi === ROAMING_SPI.cnToMn && x.src === cn6).length;
      const up = direct.filter((x) => x.spi === ROAMING_SPI.mnToCn && x.dst === cn6).length;
      assert.ok(down > 1000 && up > 1000, `direct ESP between ${p.coa} and the correspondent: ${down} down, ${up} up`);
      assert.deepEqual(touching(inPhase(cnLink), identity.hoa6), [], `nothing between the correspondent and the home address while at ${p.coa}`);
      assert.deepEqual(touching(inPhase(haLink), cn6), [], `nothing of the correspondent on the home agent's link while at ${p.coa}`);
      // The first packet the correspondent sent to this care-of address was the CoA test.
      const first = cnLink.find((x) => x.src === cn6 && x.dst === p.coa);
      assert.equal(first?.mhType, 11, `the correspondent's first packet to ${p.coa} is the CoA test (MH type 11): ${JSON.stringify(first)}`);
    }
    const binding = (await s.cn.show()).peers?.find((x) => x.name === cfg.peerNames.mn)?.binding;
    assert.equal(binding?.['verified'], true);
    for (const d of [s.mn, s.ha, s.cn]) assert.deepEqual(d.errors(), [], `${d.name} logged no error`);
  });
});


/** A ping of `size` bytes from the correspondent to the home address and one back; returns both results. */
async function pings(s: Setup, size: number): Promise<{ down: number; up: number }> {
  const cn6 = s.topo.cnAddress(6);
  const down = await s.topo.cn.ping(identity.hoa6, { count: 5, source: cn6, size, deadlineSeconds: 15 });
  const up = await s.topo.mn.ping(cn6, { count: 5, source: identity.hoa6, size, deadlineSeconds: 15 });
  return { down: down.received, up: up.received };
}

test('route optimization off: MN-CN packets go through the home agent, never from or to a care-of address', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withSetup('off', async (s) => {
    const { topo, cfg } = s;
    const cn6 = topo.cnAddress(6);
    const coa = topo.careOf(6);
    const from = Date.now() / 1000;
    assert.deepEqual(await pings(s, 56), { down: 5, up: 5 }, 'pings both ways');
    const to = Date.now() / 1000;
    await s.capCn.stop();
    await s.capHa.stop();
    const inPhase = (list: readonly Frame[]): Frame[] => list.filter((x) => x.time >= from && x.time <= to);
    const cnLink = inPhase(await frames(s.capCn.file, cfg));
    const haLink = inPhase(await frames(s.capHa.file, cfg));
    assert.deepEqual(touching(cnLink, coa).length, 0, 'nothing between the correspondent and the care-of address');
    for (const [where, list] of [['correspondent', cnLink], ['home agent', haLink]] as const) {
      const viaHome = between(list, identity.hoa6, cn6);
      const down = viaHome.filter((x) => x.spi === ROAMING_SPI.cnToMn && x.src === cn6).length;
      const up = viaHome.filter((x) => x.spi === ROAMING_SPI.mnToCn && x.dst === cn6).length;
      assert.ok(down >= 10 && up >= 10, `on the ${where}'s link, MN-CN ESP between the home address and the correspondent: ${down} down, ${up} up`);
    }
    const binding = (await s.cn.show()).peers?.find((x) => x.name === cfg.peerNames.mn)?.binding ?? null;
    assert.equal(binding, null, 'the correspondent holds no binding');
    for (const d of [s.mn, s.ha, s.cn]) assert.deepEqual(d.errors(), [], `${d.name} logged no error`);
  });
});

test('route optimization off: full-size packets and TCP between MN and CN cross the via-home path', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withSetup('off', async (s) => {
    assert.deepEqual(await pings(s, 1400), { down: 5, up: 5 }, '1400-byte pings both ways');
    await traffic(s);
  });
});
