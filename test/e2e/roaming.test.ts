/**
 * End-to-end roaming (src/lab/roaming.ts): a mobile node (mn0) with two access networks, its home
 * agent (ha0) and a correspondent that is a plain host, reached through the home agent. A TCP
 * transfer from the correspondent to the mobile node's home address runs while the lab moves the
 * mobile node A -> B -> A the way a laptop changes Wi-Fi (default routes, links down); iro's own
 * movement detection (`ip monitor`, `CareOf = auto` / `CareOf = wa0, wb0`) has to notice, never
 * `iro roam`.
 *
 * 1. IPv6 access networks, a full tunnel (AllowedIPs ::/0, 0.0.0.0/0) and `CareOf = auto`: the
 *    transfer is byte-identical (SHA-256 both ends) across both moves; the home address on the TUN
 *    and in `iro show` never changes; after each move the capture on the new access link shows ESP
 *    from the new care-of address, with no Destination Options (Home Address Option) or Routing
 *    (Type 2) header, and tshark, given the keys, finds the Binding Update from that address
 *    carrying it as Alternate CoA and the accepting Binding Ack to it.
 * 2. IPv4 access networks, B behind an nftables NAT, `CareOf = wa0, wb0`: the MN-HA traffic is
 *    ESP-in-UDP, the BU carries the RFC 5555 IPv4 CoA option with the private address while the
 *    home agent binds the NAT's outside address and port (`NAT = allow`) and says so in the BA (NAT
 *    Detection option); the mobile node keeps the mapping alive (PersistentKeepalive); the transfer
 *    is byte-identical.
 * 3. `iro demo --json` (the README's main command) reports every byte arrived, two moves, the
 *    correspondent going direct after each, and the RFC 3776 comparison from real packet sizes;
 *    interrupted with SIGINT it exits 130 and leaves no namespace behind.
 *
 * Sizes: 100 MB per transfer (the brief's minimum), the demo's included, on access links shaped to
 * 100 Mbit/s: about 8 s each, so the moves (at 20 % and 50 %) land mid-transfer on fast and slow
 * machines alike, with thousands of segments in flight on each side of them. Captures keep 256
 * bytes per packet (every header, and the whole of every signalling packet so tshark can decrypt
 * it), a few MB. ESN is off so tshark can decrypt (its limit). The file takes about a minute here.
 *
 * Needs root, the native addon, dist/ built (bin/iro.js), tcpdump, tshark and nft.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  ROAMING,
  ROAMING_SPI,
  ensureTools,
  receivedSoFar,
  runSync,
  sweepStaleNamespaces,
  findSa,
  startCapture,
  startRoamingLab,
  startTransfer,
  tsharkFields,
  waitForBinding,
  Lab,
  type Access,
  type EspSaKey,
  type RoamingLab,
  type Transfer,
} from '../../src/lab/index.js';
import type { DemoReport } from '../../src/cli/commands/demo.js';
import { IRO_BIN } from './harness.js';

const { identity } = ROAMING;
const MB = 1_000_000;
const BYTES = 100 * MB;
const TEST_TIMEOUT_MS = 240_000;
const TRANSFER_TIMEOUT_MS = 150_000;
const PROGRESS_TIMEOUT_MS = 90_000;
const KEEPALIVE_WAIT_MS = 15_000;
const DEMO_TIMEOUT_MS = 180_000;
const SNAPLEN = 256;
/** Access links shaped like Wi-Fi: 100 MB then take about 8 s, so the moves land mid-transfer. */
const ACCESS_MBIT = 100;

ensureTools(['tcpdump', 'tshark', 'nft']);

/** Runs `body` on a started roaming lab and tears it down whatever happens. */
async function withLab(options: Parameters<typeof startRoamingLab>[1], body: (r: RoamingLab) => Promise<void>): Promise<void> {
  const lab = new Lab();
  let problems: string[] = [];
  try {
    await body(await startRoamingLab(lab, options));
  } finally {
    problems = await lab.teardown();
  }
  assert.deepEqual(problems, [], 'lab teardown');
}

/** The global addresses on the mobile node's TUN, as `ip addr` shows them. */
function tunAddresses(r: RoamingLab): string[] {
  const [link] = JSON.parse(r.topo.mn.ip(['-j', 'addr', 'show', 'dev', r.daemons.mn.name]).stdout) as { addr_info: { local: string; prefixlen: number; scope: string }[] }[];
  return link!.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort();
}

/** The home address is what it was configured to be: on the TUN, and as the identity of the MN's SAs. */
async function assertHomeAddress(r: RoamingLab, when: string): Promise<void> {
  assert.deepEqual(tunAddresses(r), [`${identity.hoa6}/128`, `${identity.hoa4}/32`].sort(), `TUN addresses ${when}`);
  const show = await r.daemons.mn.show();
  const signal = findSa(show, ROAMING_SPI.mnToHaSignal);
  assert.equal(signal.identities.local, identity.hoa6, `the signalling SA's local identity ${when}`);
  const ha = await r.daemons.ha.show();
  assert.equal(findSa(ha, ROAMING_SPI.haToMnSignal).identities.peer, identity.hoa6, `the home agent's identity of the MN ${when}`);
}

/** Moves the MN and waits until the home agent has bound it to its new care-of address. */
async function moveTo(r: RoamingLab, to: Access, family: 4 | 6): Promise<Readonly<Record<string, unknown>>> {
  r.topo.move(to);
  return waitForBinding(r.daemons.ha, r.cfg.peerNames.mn, r.topo.seenCareOf(family, to));
}

/** The signalling SAs, for tshark. */
function signallingSas(r: RoamingLab): EspSaKey[] {
  return [r.cfg.mnToHaSignal, r.cfg.haToMnSignal].map((s) => ({ spi: s.spi, cipher: 'aes128gcm16' as const, keymat: s.keymat }));
}

/** A boolean field as tshark prints it. */
function yes(values: readonly string[] | undefined): boolean {
  return values !== undefined && values.length > 0 && values.every((v) => v === '1' || v === 'True');
}

/** One captured frame as tshark dissected it, signalling decrypted. */
interface Frame {
  readonly frame: number;
  readonly time: number;
  /** Layers after the outer IP header (IPv6 extension headers included, as tshark names them). */
  readonly layers: readonly string[];
  readonly src: string;
  readonly dst: string;
  /** The outer ESP SPI, if any. */
  readonly spi: number | null;
  readonly f: Readonly<Record<string, string[]>>;
}

const FIELDS = [
  'frame.number', 'frame.time_epoch', 'frame.protocols', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'esp.spi', 'esp.icv_good',
  'mip6.mhtype', 'mip6.acoa.acoa', 'mip6.ipv4coa.addr', 'mip6.ba.status', 'mip6.natd.f_flag',
];

async function framesOf(file: string, r: RoamingLab): Promise<Frame[]> {
  const rows = await tsharkFields(file, FIELDS, { sas: signallingSas(r) });
  return rows.flatMap((f) => {
    const protocols = (f['frame.protocols']![0] ?? '').split(':');
    const at = protocols.findIndex((p) => p === 'ip' || p === 'ipv6');
    if (at < 0) return [];
    const v6 = protocols[at] === 'ipv6';
    const src = (v6 ? f['ipv6.src'] : f['ip.src'])![0]!;
    const dst = (v6 ? f['ipv6.dst'] : f['ip.dst'])![0]!;
    const spi = f['esp.spi']![0];
    return [{ frame: Number(f['frame.number']![0]), time: Number(f['frame.time_epoch']![0]), layers: protocols.slice(at + 1), src, dst, spi: spi === undefined ? null : Number(spi), f }];
  });
}

function describe(frames: readonly Frame[]): string {
  return frames.slice(0, 20).map((x) => `#${x.frame} ${x.src} > ${x.dst} ${x.layers.join(':')}`).join('\n');
}

/**
 * What a capture on an access link after a move must show between the care-of address `coa` (as
 * seen there) and the home agent `ha`: ESP data and signalling both ways; ESP-in-UDP (or NAT
 * keepalives) right after the IP header, so no Destination Options (HAO) or Routing (RH2) header;
 * a Binding Update whose ICV tshark verified, naming `claimed` inside ESP (Alternate CoA, or the
 * RFC 5555 IPv4 CoA when `family` is 4), and an accepting Binding Ack to the care-of address.
 * Returns the frames between the two.
 */
function assertIroOnWire(frames: readonly Frame[], coa: string, ha: string, claimed: string, family: 4 | 6, where: string): Frame[] {
  const between = frames.filter((x) => (x.src === coa && x.dst === ha) || (x.src === ha && x.dst === coa));
  const spis = (src: string): Set<number> => new Set(between.filter((x) => x.src === src && x.spi !== null).map((x) => x.spi!));
  const up = spis(coa);
  const down = spis(ha);
  for (const spi of [ROAMING_SPI.mnToHa, ROAMING_SPI.mnToHaSignal]) assert.ok(up.has(spi), `${where}: ESP SPI 0x${spi.toString(16)} from the care-of address ${coa}`);
  for (const spi of [ROAMING_SPI.haToMn, ROAMING_SPI.haToMnSignal]) assert.ok(down.has(spi), `${where}: ESP SPI 0x${spi.toString(16)} to the care-of address ${coa}`);
  const notBare = between.filter((x) => x.layers[0] !== 'udp' || x.layers[1] !== 'udpencap');
  assert.deepEqual(notBare.map((x) => x.frame), [], `${where}: not ESP-in-UDP right after the IP header (extension headers?):\n${describe(notBare)}`);
  const bus = between.filter((x) => x.src === coa && x.f['mip6.mhtype']!.includes('5'));
  assert.ok(bus.length > 0, `${where}: a Binding Update from ${coa}`);
  for (const bu of bus) {
    assert.ok(yes(bu.f['esp.icv_good']), `${where}: tshark verified the BU's ICV (frame ${bu.frame})`);
    const option = family === 6 ? bu.f['mip6.acoa.acoa'] : bu.f['mip6.ipv4coa.addr'];
    assert.deepEqual(option, [claimed], `${where}: the BU names ${claimed} inside ESP (frame ${bu.frame})`);
  }
  const bas = between.filter((x) => x.dst === coa && x.f['mip6.mhtype']!.includes('6'));
  assert.ok(bas.some((ba) => ba.f['mip6.ba.status']![0] === '0'), `${where}: an accepting Binding Ack to ${coa}`);
  return between;
}

/**
 * Waits for the transfer to pass `fraction` of its bytes, checks that it is still running (a move
 * after the end would prove nothing), moves, waits for the home agent's new binding, and returns
 * it with the time the move began.
 */
async function moveDuring(r: RoamingLab, tr: Transfer, fraction: number, to: Access, family: 4 | 6): Promise<{ at: number; binding: Readonly<Record<string, unknown>> }> {
  await tr.waitForBytes(fraction * BYTES, PROGRESS_TIMEOUT_MS);
  assert.ok(receivedSoFar(tr) < BYTES, `the transfer is still running when the MN moves to ${to}`);
  const at = Date.now() / 1000;
  const binding = await moveTo(r, to, family);
  await assertHomeAddress(r, `after the move to ${to}`);
  return { at, binding };
}

test('IPv6: a 100 MB transfer to the home address survives A -> B -> A, and the wire carries the care-of address with no HAO or RH2', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withLab({ family: 6, esn: false, careOf: 'auto', accessMbit: ACCESS_MBIT }, async (r) => {
    const { topo, daemons } = r;
    await assertHomeAddress(r, 'at the start');
    const captures = { A: await startCapture(topo.access.A.router, topo.access.A.routerDev, { snaplen: SNAPLEN }), B: await startCapture(topo.access.B.router, topo.access.B.routerDev, { snaplen: SNAPLEN }) };
    const tr = await startTransfer({ from: topo.cn, to: topo.mn, address: identity.hoa6, sourceAddress: topo.cnAddress(6), bytes: BYTES, timeoutMs: TRANSFER_TIMEOUT_MS });
    const moves: { to: Access; at: number }[] = [];
    try {
      for (const [fraction, to] of [[0.2, 'B'], [0.5, 'A']] as const) {
        const m = await moveDuring(r, tr, fraction, to, 6);
        assert.equal(m.binding['nat'], false, 'no NAT on IPv6');
        moves.push({ to, at: m.at });
      }
    } catch (err) {
      await tr.abort();
      throw err;
    }
    const out = await tr.result();
    assert.equal(out.received.bytes, BYTES, 'byte count');
    assert.equal(out.sent.sha256, out.expected.sha256, 'sender hash');
    assert.equal(out.received.sha256, out.expected.sha256, 'the received bytes differ from those sent');
    assert.equal(out.received.remoteAddress, topo.cnAddress(6), 'the receiver saw the correspondent, not a locator');

    for (const m of moves) {
      await captures[m.to].stop();
      const coa = topo.careOf(6, m.to);
      const after = (await framesOf(captures[m.to].file, r)).filter((x) => x.time >= m.at);
      assertIroOnWire(after, coa, topo.haLocator(6), coa, 6, `access ${m.to} after the move`);
    }
    const mnShow = await daemons.mn.show();
    assert.equal(findSa(mnShow, ROAMING_SPI.mnToHa).locators.local, topo.careOf(6, 'A'), 'the MN sends from its care-of address on A again');
    assert.deepEqual(daemons.mn.errors(), [], 'the mobile node logged no error');
    assert.deepEqual(daemons.ha.errors(), [], 'the home agent logged no error');
  });
});

test('IPv4 with access B behind a NAT: ESP-in-UDP, RFC 5555 IPv4 CoA, NAT detected and kept alive; a 100 MB transfer survives A -> B -> A', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withLab({ family: 4, nat: true, esn: false, careOf: 'interfaces', keepaliveS: 1, accessMbit: ACCESS_MBIT }, async (r) => {
    const { topo, daemons } = r;
    const nat = topo.access.B;
    assert.ok(nat.natted, 'access B is behind the NAT');
    const outside = topo.seenCareOf(4, 'B');
    // Outside the NAT: what the home agent sees of access B.
    const capture = await startCapture(topo.inet, topo.inetDev.accessB, { snaplen: SNAPLEN });
    const tr = await startTransfer({ from: topo.cn, to: topo.mn, address: identity.hoa4, sourceAddress: topo.cnAddress(4), bytes: BYTES, timeoutMs: TRANSFER_TIMEOUT_MS });
    let natBinding: Readonly<Record<string, unknown>>;
    let homeBinding: Readonly<Record<string, unknown>>;
    try {
      // One NAT keepalive (UDP payload 0xff, RFC 3948 §2.3) from behind the NAT ends this tcpdump.
      const keepalive = topo.inet.spawn('tcpdump', ['-i', topo.inetDev.accessB, '-n', '-c', '1', `udp and src host ${outside} and udp[4:2] = 9 and udp[8] = 0xff`], { label: 'tcpdump keepalive' });
      await keepalive.waitForLine((l) => l.includes('listening on'), KEEPALIVE_WAIT_MS, 'that it listens');
      natBinding = (await moveDuring(r, tr, 0.2, 'B', 4)).binding;
      const seen = await keepalive.wait(KEEPALIVE_WAIT_MS);
      assert.equal(seen.status, 0, `a NAT keepalive from behind the NAT:\n${keepalive.describe()}`);
      homeBinding = (await moveDuring(r, tr, 0.5, 'A', 4)).binding;
    } catch (err) {
      await tr.abort();
      throw err;
    }
    const out = await tr.result();
    assert.equal(out.received.bytes, BYTES, 'byte count');
    assert.equal(out.received.sha256, out.expected.sha256, 'the received bytes differ from those sent');
    await capture.stop();

    assert.equal(natBinding['nat'], true, `the home agent noticed the NAT: ${JSON.stringify(natBinding)}`);
    assert.match(String(natBinding['coa']), new RegExp(`^${outside.replaceAll('.', '\\.')}:\\d+$`), "bound to the NAT's outside address and port");
    assert.equal(homeBinding['nat'], false, 'no NAT on access A');
    assert.equal(homeBinding['coa'], `${topo.careOf(4, 'A')}:4500`);

    const between = assertIroOnWire(await framesOf(capture.file, r), outside, topo.haLocator(4), nat.mn4, 4, 'outside the NAT');
    const bas = between.filter((x) => x.dst === outside && x.f['mip6.mhtype']!.includes('6') && x.f['mip6.ba.status']![0] === '0');
    assert.ok(bas.every((ba) => yes(ba.f['mip6.natd.f_flag'])), 'every accepting BA through the NAT says a NAT was seen (RFC 5555 NAT Detection)');
    assert.deepEqual(daemons.mn.errors(), [], 'the mobile node logged no error');
    assert.deepEqual(daemons.ha.errors(), [], 'the home agent logged no error');
  });
});

/** Namespaces of demo labs made by process `pid` (`demo-<pid>-<n>-<tag>`). */
function demoNamespaces(pid: number): string[] {
  return runSync('ip', ['netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`demo-${pid}-`));
}

/** Runs `iro demo ARGS` as a child; `onStderr` sees its progress lines. Resolves with its exit and output. */
function runDemo(args: readonly string[], onStderr: (line: string, pid: number) => void = () => undefined): Promise<{ status: number | null; stdout: string; stderr: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [IRO_BIN, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), DEMO_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      for (const line of d.split('\n')) if (line !== '') onStderr(line, child.pid!);
    });
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      // A demo killed by the timer could not remove its lab: its namespaces carry its (now dead) PID.
      const leftover = demoNamespaces(child.pid!);
      sweepStaleNamespaces('demo');
      resolve({ status, stdout, stderr: leftover.length > 0 ? `${stderr}\n(left behind, now removed: ${leftover.join(' ')})` : stderr, pid: child.pid! });
    });
  });
}

test('iro demo --json: every byte arrives across two moves, route optimization goes direct, RFC 3776 comparison from real sizes', { timeout: TEST_TIMEOUT_MS }, async () => {
  // 100 MB on links shaped to 100 Mbit/s: about 8 s of transfer, the moves at 1/3 and 2/3.
  const r = await runDemo(['--json', '--bytes', '100M', '--mbit', String(ACCESS_MBIT)]);
  assert.equal(r.status, 0, `iro demo exited ${r.status}:\n${r.stderr}`);
  const report = JSON.parse(r.stdout) as DemoReport;
  assert.equal(report.ok, true);
  assert.equal(report.received, 100 * MB);
  assert.equal(report.sha256.received, report.sha256.expected);
  assert.deepEqual(report.moves.map((m) => [m.to, m.careOf]), [['B', ROAMING.accessB.mn6], ['A', ROAMING.accessA.mn6]]);
  for (const m of report.moves) {
    assert.ok(m.atBytes > 0 && m.atBytes < report.bytes, `move to ${m.to} happened mid-transfer (${m.atBytes} bytes)`);
    assert.notEqual(m.directAfterMs, null, `the correspondent went direct after the move to ${m.to}`);
    assert.ok(m.correspondentPackets.direct > 0, `direct packets after the move to ${m.to}`);
    assert.ok(m.handover.observations >= 1, `the mobile node measured the handover to ${m.to}`);
  }
  for (const w of [report.wire.toMobile, report.wire.fromMobile]) {
    assert.ok(w.packets > 0, 'direct packets both ways');
    assert.ok(Math.abs(w.rfc3776BytesPerPacket - w.iroBytesPerPacket - 24) < 1e-6, 'RFC 3776 carries a 24-byte HAO or RH2 per packet');
    assert.equal(w.savedBytes, 24 * w.packets);
  }
  // Full-size data packets to the mobile node: real wire sizes, not GSO super-packets.
  assert.ok(report.wire.toMobile.iroBytesPerPacket > 1000 && report.wire.toMobile.iroBytesPerPacket <= 1500, `bytes per packet to the MN: ${report.wire.toMobile.iroBytesPerPacket}`);
  assert.doesNotMatch(r.stderr, /left behind/, 'the demo removed its lab');
});

test('iro demo interrupted with SIGINT removes its lab and exits 130', { timeout: TEST_TIMEOUT_MS }, async () => {
  let seen: string[] = [];
  const r = await runDemo(['--bytes', '2000M', '--mbit', '50'], (line, pid) => {
    if (!line.includes('streaming')) return;
    seen = demoNamespaces(pid);
    process.kill(pid, 'SIGINT');
  });
  assert.ok(seen.length >= 4, `the lab existed when interrupted: ${JSON.stringify(seen)}\n${r.stderr}`);
  assert.equal(r.status, 130, r.stderr);
  assert.doesNotMatch(r.stderr, /left behind/, 'no namespace left behind');
});
