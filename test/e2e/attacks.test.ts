/**
 * End-to-end attacks on the bindings, from a third namespace (the roaming lab's attacker, on a
 * network of its own behind the internet router), against a mobile node registered at care-of
 * address B with its home agent and with a correspondent that verified that address (route
 * optimization on). PROTOCOL.md F.10: outer addresses are not authenticated, so only ESP-protected
 * Binding Updates (and, at a correspondent, a completed CoA test) may move a binding.
 *
 * Sent to the home agent and the correspondent, none of these moves a binding (`iro show --json`:
 * same care-of address, same sequence number; /metrics: no BU accepted, no handover):
 * - Binding Updates under an SPI no SA has (sealed with the real key; and random bytes), and with
 *   a bad ICV (sealed with the real key, one bit flipped) -> dropped as no_sa / auth_failed;
 * - a captured Binding Update replayed verbatim from the attacker's address (a valid BU whose
 *   outer source was rewritten) -> dropped as replay;
 * - a fresh Binding Update sealed with the real keys (the test knows them; Scapy seals it) that
 *   names the mobile node's real care-of address but comes from the attacker's address -> refused
 *   (the Alternate CoA is not the outer source and the home agent allows no NAT), BA 129;
 * - a fresh Binding Update with a stale sequence number -> refused with BA 135 carrying the last
 *   accepted number (tshark decrypts the BA on the attacker's link);
 * - data: a captured packet replayed from the attacker's address (dropped as replay), and a fresh
 *   tunnel-mode echo request sealed with the real key from the attacker's address: the home agent
 *   accepts it (the SA is found by SPI) but its reply goes to the registered care-of address, not
 *   to the attacker (tshark decrypts it on access link B).
 * Afterwards the tunnel and the direct MN-CN path still work.
 *
 * Crafting uses Debian's Scapy (an ESP implementation nobody here wrote) for the ESP and plain
 * struct packing for the Mobility Header (RFC 6275 §6.1.7, the layout of PROTOCOL.md E.3.1). ESN
 * is off (Scapy and tshark). Little traffic: the file takes well under a minute.
 *
 * Needs root, the native addon, dist/ built (bin/iro.js), tcpdump, tshark and Scapy.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  Lab,
  PYTHON,
  ROAMING,
  ROAMING_SPI,
  bindingIn,
  ensureTools,
  findSa,
  inject,
  metricValue,
  startCapture,
  startRoamingLab,
  tsharkFields,
  waitForBinding,
  waitUntil,
  type IroDaemon,
  type Netns,
  type RoamingLab,
  type SaSecret,
} from '../../src/lab/index.js';

const { identity } = ROAMING;
const TEST_TIMEOUT_MS = 180_000;
const INJECT_TIMEOUT_MS = 60_000;
const METRICS_WAIT_MS = 15_000;
/** ICMPv6 echo payload of the forged data packet, found again in the decrypted reply. */
const PATTERN = Buffer.from('iro attack: whose reply is this?');
/** How far ahead of the mobile node's own ESP sequence numbers forged packets go (inside the 1024-packet window). */
const SEQ_AHEAD = 200;
/** BU flags (RFC 6275 §6.1.7): A, H. */
const FLAG_A = 0x8000;
const FLAG_H = 0x4000;
/** BA status (RFC 6275 §6.1.8): sequence number out of window. */
const BA_SEQ_OUT_OF_WINDOW = 135;
/** An SPI neither daemon has an SA for. */
const WRONG_SPI = 0x0bad_0001;

ensureTools(['tcpdump', 'tshark', 'scapy', 'ping']);

/** Python program: seals crafted Binding Updates (transport mode) and data (tunnel mode) with Scapy and sends them over UDP. */
const CRAFT = String.raw`
import json, socket, struct, sys
from scapy.all import IPv6, Raw, raw
from scapy.layers.inet6 import ICMPv6EchoRequest, in6_chksum
from scapy.layers.ipsec import ESP, SecurityAssociation

def bu(job):
    # RFC 6275 6.1.7: MH header (proto 59, len 3, type 5), seq, flags, lifetime; PadN(0) then the
    # Alternate CoA option at 8n+6 (PROTOCOL.md E.3.1). Checksum over the identities (F.13).
    mh = struct.pack("!BBBBH", 59, 3, 5, 0, 0) + struct.pack("!HHH", job["mhSeq"], job["flags"], job["lifetime"])
    mh += b"\x01\x00" + b"\x03\x10" + socket.inet_pton(socket.AF_INET6, job["coa"])
    ck = in6_chksum(135, IPv6(src=job["src"], dst=job["dst"]), mh)
    mh = mh[:4] + struct.pack("!H", ck) + mh[6:]
    sa = SecurityAssociation(ESP, spi=job["spi"], crypt_algo="AES-GCM", crypt_key=bytes.fromhex(job["keymat"]))
    return sa.encrypt(IPv6(src=job["src"], dst=job["dst"], nh=135) / Raw(mh), seq_num=job["seq"])

def data(job):
    sa = SecurityAssociation(ESP, spi=job["spi"], crypt_algo="AES-GCM", crypt_key=bytes.fromhex(job["keymat"]),
                             tunnel_header=IPv6(src="2001:db8:3::2", dst="2001:db8:1::2"))
    inner = IPv6(src=job["src"], dst=job["dst"]) / ICMPv6EchoRequest(id=0x1e0, seq=1, data=bytes.fromhex(job["payload"]))
    return sa.encrypt(inner, seq_num=job["seq"])

spec = json.load(sys.stdin)
sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
out = []
for job in spec["jobs"]:
    esp = bytearray(raw((bu if job["kind"] == "bu" else data)(job)[ESP]))
    if job.get("flip"):
        esp[-1] ^= 0x01
    sock.sendto(bytes(esp), (job["target"], 4500))
    out.append({"kind": job["kind"], "spi": job["spi"], "seq": job["seq"], "bytes": len(esp)})
json.dump(out, sys.stdout)
`;

interface Crafted {
  readonly kind: 'bu' | 'data';
  readonly target: string;
  readonly sa: SaSecret;
  /** ESP sequence number (>= 1: Scapy treats 0 as unset). */
  readonly seq: number;
  /** Flip the last ICV bit. */
  readonly flip?: boolean;
  /** Identities: the restored source and destination. */
  readonly src: string;
  readonly dst: string;
  /** BU: sequence number, flags, lifetime (4 s units), Alternate CoA. */
  readonly mhSeq?: number;
  readonly flags?: number;
  readonly lifetime?: number;
  readonly coa?: string;
}

async function craft(from: Netns, jobs: readonly Crafted[]): Promise<void> {
  const wire = jobs.map(({ sa, ...j }) => ({ ...j, spi: sa.spi, keymat: sa.keymat.toString('hex'), payload: PATTERN.toString('hex') }));
  const r = await from.exec(PYTHON, ['-c', CRAFT], { input: JSON.stringify({ jobs: wire }), timeoutMs: INJECT_TIMEOUT_MS, allowFailure: true });
  assert.equal(r.status, 0, `crafting with Scapy failed: ${r.stderr}`);
  assert.equal((JSON.parse(r.stdout) as unknown[]).length, jobs.length, 'every crafted packet was sent');
}

/** The metrics this test watches on one daemon. */
interface Watched {
  readonly accepted: number;
  readonly refusedSequence: number;
  readonly refusedAddress: number;
  readonly handovers: number;
  readonly noSa: number;
  readonly authFailed: number;
  readonly replay: number;
}

async function watched(d: IroDaemon, peer: string): Promise<Watched> {
  const m = await d.metrics();
  const v = (name: string, labels: Record<string, string>): number => {
    const x = metricValue(m, name, labels);
    assert.notEqual(x, null, `${d.name} exports ${name}${JSON.stringify(labels)}`);
    return x!;
  };
  return {
    accepted: v('iro_binding_updates_total', { peer, result: 'accepted' }),
    refusedSequence: v('iro_binding_updates_total', { peer, result: 'refused_sequence' }),
    refusedAddress: v('iro_binding_updates_total', { peer, result: 'refused_address' }),
    handovers: v('iro_handovers_total', { peer }),
    noSa: v('iro_dropped_packets_total', { direction: 'in', reason: 'no_sa' }),
    authFailed: v('iro_dropped_packets_total', { direction: 'in', reason: 'auth_failed' }),
    replay: v('iro_dropped_packets_total', { direction: 'in', reason: 'replay' }),
  };
}

/** Waits until `d`'s counters reach `want` (drops are counted asynchronously), then returns them. */
async function reach(d: IroDaemon, peer: string, want: Watched): Promise<Watched> {
  let last: Watched | null = null;
  try {
    await waitUntil(`${d.name} counters`, async () => {
      last = await watched(d, peer);
      return (Object.keys(want) as (keyof Watched)[]).every((k) => last![k] >= want[k]);
    }, METRICS_WAIT_MS);
  } catch {
    // Compared below, with both sides in the message.
  }
  return last ?? (await watched(d, peer));
}

function plus(base: Watched, delta: Partial<Watched>): Watched {
  const out = { ...base };
  for (const [k, v] of Object.entries(delta) as [keyof Watched, number][]) out[k] += v;
  return out;
}

test('attacks from a third namespace move no binding at the home agent or the correspondent', { timeout: TEST_TIMEOUT_MS }, async () => {
  const lab = new Lab();
  let problems: string[] = [];
  try {
    const r: RoamingLab = await startRoamingLab(lab, { family: 6, correspondent: 'on', esn: false, attacker: true, accessMbit: 100 });
    const { topo, cfg, daemons } = r;
    const ha = daemons.ha;
    const cn = daemons.cn!;
    const attacker = topo.attacker!;
    const mnName = cfg.peerNames.mn;
    const ha6 = topo.haLocator(6);
    const cn6 = topo.cnAddress(6);
    const attacker6 = ROAMING.attacker.attacker6;

    // Move to B with captures on the HA's and CN's links: Binding Updates to replay later.
    const capHa = await startCapture(topo.inet, topo.inetDev.ha);
    const capCn = await startCapture(topo.inet, topo.inetDev.cn);
    topo.move('B');
    const coaB = topo.careOf(6, 'B');
    await waitForBinding(ha, mnName, coaB);
    await waitForBinding(cn, mnName, coaB, { verified: true });
    const ping = await topo.cn.ping(identity.hoa6, { count: 3, source: cn6 });
    assert.equal(ping.received, 3, `traffic before the attacks: ${ping.output}`);
    // Through the tunnel too (with route optimization the CN's traffic does not use it): data to replay.
    const home = await topo.mn.ping(identity.ha6, { count: 2, source: identity.hoa6 });
    assert.equal(home.received, 2, `traffic to the home agent: ${home.output}`);
    await capHa.stop();
    await capCn.stop();

    const haBefore = bindingIn(await ha.show(), mnName)!;
    const cnBefore = bindingIn(await cn.show(), mnName)!;
    const haMetrics = await watched(ha, mnName);
    const cnMetrics = await watched(cn, mnName);
    const haSeq = Number(haBefore['sequence']);
    const mnShow = await daemons.mn.show();
    const signalSeq = findSa(mnShow, ROAMING_SPI.mnToHaSignal).sequence.lo;
    const dataSeq = findSa(mnShow, ROAMING_SPI.mnToHa).sequence.lo;
    const cnSeq = findSa(mnShow, ROAMING_SPI.mnToCn).sequence.lo;

    // What the attacker receives, and what reaches the mobile node on B.
    const capAttacker = await startCapture(attacker, topo.wanDev);
    const capB = await startCapture(topo.access.B.router, topo.access.B.routerDev);

    const buToHa = { kind: 'bu' as const, target: ha6, sa: cfg.mnToHaSignal, src: identity.hoa6, dst: identity.ha6, flags: FLAG_A | FLAG_H, lifetime: 900 };
    const haTarget = { address: ha6, port: 4500 };
    const cnTarget = { address: cn6, port: 4500 };
    await inject(attacker, haTarget, [
      { kind: 'random-spi', count: 1 },
      { kind: 'replay', pcap: capHa.file, spi: ROAMING_SPI.mnToHaSignal, pick: 'last' },
      { kind: 'replay', pcap: capHa.file, spi: ROAMING_SPI.mnToHa, pick: 'last' },
    ]);
    await craft(attacker, [
      // Sealed with the real key, sent under an SPI no SA has.
      { ...buToHa, sa: { spi: WRONG_SPI, keymat: cfg.mnToHaSignal.keymat }, seq: signalSeq + SEQ_AHEAD, mhSeq: haSeq + 1, coa: attacker6 },
      // Bad ICV.
      { ...buToHa, seq: signalSeq + SEQ_AHEAD, flip: true, mhSeq: haSeq + 1, coa: attacker6 },
      // Valid, naming the MN's real CoA, from the attacker's address.
      { ...buToHa, seq: signalSeq + SEQ_AHEAD + 1, mhSeq: haSeq + 1, coa: coaB },
      // Valid, stale sequence number, naming the attacker.
      { ...buToHa, seq: signalSeq + SEQ_AHEAD + 2, mhSeq: haSeq, coa: attacker6 },
      // Data from the attacker's address: an echo request from the home address to the home agent.
      { kind: 'data', target: ha6, sa: cfg.mnToHa, seq: dataSeq + SEQ_AHEAD, src: identity.hoa6, dst: identity.ha6 },
    ]);
    await inject(attacker, cnTarget, [
      // The MN-CN SA carries BUs and data; the first packet after the move is the BU.
      { kind: 'replay', pcap: capCn.file, spi: ROAMING_SPI.mnToCn, pick: 'first' },
    ]);
    const buToCn = { kind: 'bu' as const, target: cn6, src: identity.hoa6, dst: cn6, mhSeq: Number(cnBefore['sequence']) + 1, flags: FLAG_A, lifetime: 100, coa: attacker6 };
    await craft(attacker, [
      { ...buToCn, sa: { spi: WRONG_SPI, keymat: cfg.mnToCn!.keymat }, seq: cnSeq + SEQ_AHEAD },
      { ...buToCn, sa: cfg.mnToCn!, seq: cnSeq + SEQ_AHEAD, flip: true },
    ]);

    const haWant = plus(haMetrics, { noSa: 2, replay: 2, authFailed: 1, refusedAddress: 1, refusedSequence: 1 });
    const cnWant = plus(cnMetrics, { noSa: 1, replay: 1, authFailed: 1 });
    assert.deepEqual(await reach(ha, mnName, haWant), haWant, `home agent counters (before: ${JSON.stringify(haMetrics)})\n${r.diag()}`);
    assert.deepEqual(await reach(cn, mnName, cnWant), cnWant, `correspondent counters (before: ${JSON.stringify(cnMetrics)})`);
    assert.deepEqual(bindingIn(await ha.show(), mnName), haBefore, 'the home agent binding did not move');
    assert.deepEqual(bindingIn(await cn.show(), mnName), cnBefore, 'the correspondent binding did not move');
    assert.equal(findSa(await ha.show(), ROAMING_SPI.haToMn).locators.peer, coaB, 'the home agent still tunnels to the registered CoA');

    // Traffic still flows, on the registered path.
    const after = await topo.cn.ping(identity.hoa6, { count: 3, source: cn6 });
    assert.equal(after.received, 3, `traffic after the attacks: ${after.output}`);
    await capAttacker.stop();
    await capB.stop();

    // The stale BU was answered, to where it came from, with BA 135 carrying the last accepted number.
    const sas = [cfg.haToMnSignal, cfg.haToMn].map((s) => ({ spi: s.spi, cipher: 'aes128gcm16' as const, keymat: s.keymat }));
    const atAttacker = await tsharkFields(capAttacker.file, ['ipv6.src', 'esp.spi', 'mip6.ba.status', 'mip6.ba.seqnr'], { sas, displayFilter: 'esp' });
    const bas = atAttacker.filter((f) => f['ipv6.src']![0] === ha6 && f['mip6.ba.status']!.length > 0);
    assert.ok(bas.some((f) => Number(f['mip6.ba.status']![0]) === BA_SEQ_OUT_OF_WINDOW && Number(f['mip6.ba.seqnr']![0]) === haSeq), `BA 135 with sequence ${haSeq} to the attacker: ${JSON.stringify(bas)}`);
    const fromHa = atAttacker.filter((f) => f['ipv6.src']![0] === ha6);
    assert.ok(fromHa.some((f) => Number(f['esp.spi']![0]) === ROAMING_SPI.haToMnSignal), 'the refusals reached the attacker (so its capture works)');
    const dataToAttacker = fromHa.filter((f) => f['esp.spi']!.some((spi) => Number(spi) === ROAMING_SPI.haToMn));
    assert.deepEqual(dataToAttacker, [], 'the home agent sent no data to the attacker');
    // The reply to the forged echo request went to the registered care-of address.
    const pattern = PATTERN.toString('hex');
    const atB = await tsharkFields(capB.file, ['ipv6.dst', 'icmpv6.type', 'data.data'], { sas, displayFilter: 'icmpv6.type == 129' });
    const replies = atB.filter((f) => f['data.data']!.some((d) => d.replaceAll(':', '').includes(pattern)));
    assert.ok(replies.length > 0 && replies.every((f) => f['ipv6.dst']![0] === coaB), `the reply to the forged echo request, to ${coaB}: ${JSON.stringify(atB.slice(0, 5))}`);
    for (const d of [daemons.mn, ha, cn]) assert.deepEqual(d.errors(), [], `${d.name} logged no error`);
  } finally {
    problems = await lab.teardown();
  }
  assert.deepEqual(problems, [], 'lab teardown');
});
