/**
 * `iro demo [--json] [--bytes N] [--mbit N]`: the roaming demo (README quick start). In a lab of
 * network namespaces (src/lab/roaming.ts; needs root) it runs iro in a mobile node, its home agent
 * and a correspondent with route optimization on, with fresh random keys in a temp dir (mode
 * 0600), and streams N bytes over TCP from the correspondent to the mobile node's home address
 * while the mobile node moves from access network A to B (at 1/3) and back (at 2/3), detected by
 * iro itself. Then it reports: whether every byte arrived (SHA-256 at both ends), throughput, the
 * handover gaps the mobile node measured (iro_handover_duration_seconds), the registration and
 * CoA-test times, whether the correspondent's traffic went directly to the care-of address after
 * each move, and the bytes per packet on the wire with IRO against what RFC 3776 formats would
 * carry (PROTOCOL.md A.6: +24 bytes per packet with one mobile end), from the captured packets.
 * The lab is removed at the end, on failure, and on Ctrl-C. Exit 0 only when every byte arrived.
 */
import { ExitCode, IroError } from '../../util/errors.js';
import {
  IroDaemon,
  Lab,
  assertLabPrivileges,
  ROAMING,
  buildRoamingTopology,
  ensureTools,
  logMessage,
  metricValue,
  receivedSoFar,
  startCapture,
  startTransfer,
  sweepStaleNamespaces,
  tsharkFields,
  waitForBinding,
  writeRoamingConfigs,
  type Access,
  type Capture,
  type RoamingConfigs,
  type RoamingTopology,
  type TransferOutcome,
} from '../../lab/index.js';
import { parseCommandArgs, stringOption, UsageError, type CliIo, type Command } from '../command.js';

const MB = 1_000_000;
const DEFAULT_BYTES = 200 * MB;
/** Access links shaped like Wi-Fi: 200 MB then take about 9 s whatever the machine, so the moves land mid-transfer. */
const DEFAULT_MBIT = 200;
const MAX_BYTES = 2_000 * MB;
const TRANSFER_TIMEOUT_MS = 120_000;
const PROGRESS_TIMEOUT_MS = 60_000;
const BINDING_TIMEOUT_MS = 10_000;
/** Bytes of each packet kept by the capture: the outer headers are all the analysis reads. */
const SNAPLEN = 96;
/** PROTOCOL.md A.6: a Home Address Option (MN -> CN) or a Type 2 Routing Header (CN -> MN), each. */
const RFC3776_EXTRA_BYTES = 24;
const IPV6_HEADER = 40;
/** Exit status after SIGINT / SIGTERM (128 + 2). */
const INTERRUPTED = 130;
const LAB_PREFIX = 'demo';

const USAGE = `usage: iro demo [--json] [--bytes N] [--mbit N]

Builds a lab of network namespaces (root needed; missing tools are installed with apt-get):
a mobile node with two access networks, an internet router, a home agent and a correspondent,
all running iro with fresh random keys. Streams N bytes (default ${DEFAULT_BYTES / MB} MB) over TCP from
the correspondent to the mobile node's home address while the mobile node moves from network A
to B and back, then reports whether every byte arrived (SHA-256 at both ends), the throughput,
the handover times, whether route optimization sent the correspondent's traffic directly to the
care-of address, and the bytes per packet on the wire against RFC 3776. Removes the lab at the
end and on Ctrl-C. Exit status 0 only when every byte arrived.

options:
  --json      print the report as JSON
  --bytes N   bytes to transfer (1 MB .. ${MAX_BYTES / MB} MB; suffixes k, M, G)
  --mbit N    rate of the two access links in Mbit/s (default ${DEFAULT_MBIT}), as Wi-Fi would have
`;

/** One move as the report tells it. */
export interface DemoMove {
  readonly to: Access;
  readonly careOf: string;
  /** Seconds since the transfer started. */
  readonly atSeconds: number;
  /** Bytes received when the move began. */
  readonly atBytes: number;
  /** Binding Update to Binding Ack with the home agent (the mobile node's log). */
  readonly registrationMs: number | null;
  /** From the move to the correspondent verifying the new care-of address (its log). */
  readonly coaVerifiedMs: number | null;
  /** iro_handover_duration_seconds observed by the mobile node for the correspondent's SA during this move. */
  readonly handover: { readonly observations: number; readonly seconds: number };
  /** The correspondent's data packets to the mobile node after this move, by where they went. */
  readonly correspondentPackets: { readonly direct: number; readonly viaHome: number; readonly oldCareOf: number };
  /** From the move to the correspondent's first packet to the new care-of address (its CoA test). */
  readonly directAfterMs: number | null;
}

export interface DemoReport {
  readonly ok: boolean;
  readonly bytes: number;
  readonly received: number;
  readonly sha256: { readonly sent: string; readonly received: string; readonly expected: string };
  readonly seconds: number;
  readonly throughputMbps: number;
  readonly accessMbit: number;
  readonly homeAddress: string;
  readonly correspondent: string;
  readonly moves: readonly DemoMove[];
  /**
   * The MN <-> CN ESP packets sent directly between a care-of address and the correspondent,
   * captured on the correspondent's link, with their real sizes (IPv6 header on, no Ethernet);
   * what RFC 3776 route optimization would have carried in their place: each with a Home Address
   * Option (mobile node -> correspondent) or a Type 2 Routing Header (correspondent -> mobile node).
   */
  readonly wire: {
    readonly toMobile: WireStats;
    readonly fromMobile: WireStats;
    readonly all: WireStats;
  };
}

export interface WireStats {
  readonly packets: number;
  readonly iroBytesPerPacket: number;
  readonly rfc3776BytesPerPacket: number;
  readonly extraPercent: number;
  /** Bytes RFC 3776 formats would have added to these packets. */
  readonly savedBytes: number;
}

function wireStats(sizes: readonly number[]): WireStats {
  const n = sizes.length;
  const iro = n === 0 ? 0 : sizes.reduce((a, b) => a + b, 0) / n;
  return {
    packets: n,
    iroBytesPerPacket: iro,
    rfc3776BytesPerPacket: n === 0 ? 0 : iro + RFC3776_EXTRA_BYTES,
    extraPercent: n === 0 ? 0 : (100 * RFC3776_EXTRA_BYTES) / iro,
    savedBytes: n * RFC3776_EXTRA_BYTES,
  };
}

interface Options {
  readonly json: boolean;
  readonly bytes: number;
  readonly mbit: number;
}

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kMG]?)B?$/.exec(text);
  if (!m) throw new UsageError(`--bytes must be a number with an optional k, M or G suffix, got ${JSON.stringify(text)}`);
  const scale = { '': 1, k: 1e3, M: 1e6, G: 1e9 }[m[2]!]!;
  const n = Math.round(Number(m[1]) * scale);
  if (n < MB || n > MAX_BYTES) throw new UsageError(`--bytes must be between 1M and ${MAX_BYTES / MB}M, got ${text}`);
  return n;
}

function parseOptions(args: string[]): Options {
  const parsed = parseCommandArgs(args, { json: { type: 'boolean' }, bytes: { type: 'string' }, mbit: { type: 'string' } }, 0, 0);
  const mbitText = stringOption(parsed, 'mbit', String(DEFAULT_MBIT));
  const mbit = Number(mbitText);
  if (!Number.isFinite(mbit) || mbit < 1 || mbit > 100_000) throw new UsageError(`--mbit must be a number from 1 to 100000, got ${JSON.stringify(mbitText)}`);
  return { json: parsed.values['json'] === true, bytes: parseSize(stringOption(parsed, 'bytes', String(DEFAULT_BYTES))), mbit };
}

/** Log records of a daemon with `msg`, with their times. */
function records(d: IroDaemon, msg: string): { time: number; rec: Record<string, unknown> }[] {
  return d.proc.lines
    .filter((l) => logMessage(l) === msg)
    .map((l) => {
      const rec = JSON.parse(l) as Record<string, unknown>;
      return { time: Date.parse(String(rec['time'])), rec };
    });
}

interface Scrape {
  readonly count: number;
  readonly sum: number;
}

async function handoverHistogram(mn: IroDaemon, peer: string): Promise<Scrape> {
  const m = await mn.metrics();
  return {
    count: metricValue(m, 'iro_handover_duration_seconds_count', { peer }) ?? 0,
    sum: metricValue(m, 'iro_handover_duration_seconds_sum', { peer }) ?? 0,
  };
}

interface MoveRecord {
  readonly to: Access;
  readonly from: Access;
  readonly at: number;
  readonly atBytes: number;
  readonly before: Scrape;
}

class Demo {
  readonly lab: Lab;
  readonly options: Options;
  readonly progress: (text: string) => void;
  topo!: RoamingTopology;
  cfg!: RoamingConfigs;
  ha!: IroDaemon;
  cn!: IroDaemon;
  mn!: IroDaemon;
  capture!: Capture;

  constructor(lab: Lab, options: Options, progress: (text: string) => void) {
    this.lab = lab;
    this.options = options;
    this.progress = progress;
  }

  async setUp(): Promise<void> {
    this.progress('building the lab: mobile node, access networks A and B, internet router, home agent, correspondent');
    this.topo = buildRoamingTopology(this.lab, { accessMbit: this.options.mbit });
    const dir = this.lab.tempDir('iro');
    this.cfg = writeRoamingConfigs(dir, this.topo, { family: 6, correspondent: 'on' });
    this.capture = await startCapture(this.topo.inet, this.topo.inetDev.cn, { snaplen: SNAPLEN });
    this.progress(`starting iro (configs with fresh random keys in ${dir})`);
    this.ha = IroDaemon.start(this.topo.ha, this.cfg.ha, { runDir: dir });
    await this.ha.ready();
    this.cn = IroDaemon.start(this.topo.cn, this.cfg.cn!, { runDir: dir });
    await this.cn.ready();
    this.mn = IroDaemon.start(this.topo.mn, this.cfg.mn, { runDir: dir });
    await this.mn.ready();
    await waitForBinding(this.ha, this.cfg.peerNames.mn, this.topo.careOf(6), { timeoutMs: BINDING_TIMEOUT_MS });
    await waitForBinding(this.cn, this.cfg.peerNames.mn, this.topo.careOf(6), { verified: true, timeoutMs: BINDING_TIMEOUT_MS });
  }

  /** The transfer with its two moves; returns its outcome, timing and the moves. */
  async run(): Promise<{ out: TransferOutcome; started: number; ended: number; moves: MoveRecord[] }> {
    const { topo, options } = this;
    const hoa = ROAMING.identity.hoa6;
    this.progress(`streaming ${options.bytes / MB} MB from the correspondent ${topo.cnAddress(6)} to the home address ${hoa}`);
    const started = Date.now();
    const tr = await startTransfer({ from: topo.cn, to: topo.mn, address: hoa, sourceAddress: topo.cnAddress(6), bytes: options.bytes, timeoutMs: TRANSFER_TIMEOUT_MS });
    const moves: MoveRecord[] = [];
    try {
      for (const [k, to] of (['B', 'A'] as const).entries()) {
        await tr.waitForBytes(Math.round(((k + 1) * options.bytes) / 3), PROGRESS_TIMEOUT_MS);
        const atBytes = receivedSoFar(tr);
        if (atBytes >= options.bytes) break;
        const before = await handoverHistogram(this.mn, this.cfg.peerNames.cn);
        const from = topo.at;
        const at = Date.now();
        topo.move(to);
        this.progress(`moved the mobile node from network ${from} to ${to} at ${Math.round(atBytes / MB)} MB`);
        moves.push({ to, from, at, atBytes, before });
        await waitForBinding(this.ha, this.cfg.peerNames.mn, topo.careOf(6), { timeoutMs: BINDING_TIMEOUT_MS });
      }
    } catch (err) {
      await tr.abort();
      throw err;
    }
    const out = await tr.result();
    return { out, started, ended: Date.now(), moves };
  }

  async report(out: TransferOutcome, started: number, ended: number, moves: readonly MoveRecord[]): Promise<DemoReport> {
    const { topo, cfg, options } = this;
    const after = await handoverHistogram(this.mn, cfg.peerNames.cn);
    await this.capture.stop();
    this.progress('reading the capture of the correspondent\'s link');
    const frames = (await tsharkFields(this.capture.file, ['frame.time_epoch', 'ipv6.src', 'ipv6.dst', 'ipv6.plen', 'esp.spi'], { displayFilter: 'esp' })).map((f) => ({
      time: Number(f['frame.time_epoch']![0]) * 1000,
      src: f['ipv6.src']![0] ?? '',
      dst: f['ipv6.dst']![0] ?? '',
      size: IPV6_HEADER + Number(f['ipv6.plen']![0] ?? 0),
      spi: Number(f['esp.spi']![0] ?? 0),
    }));
    const cn6 = topo.cnAddress(6);
    const hoa = ROAMING.identity.hoa6;
    const down = frames.filter((f) => f.src === cn6 && f.spi === cfg.cnToMn!.spi);
    const registrations = records(this.mn, 'handover');
    const verified = records(this.cn, 'care-of address verified; route optimization on');
    const report: DemoMove[] = moves.map((m, k) => {
      const until = moves[k + 1]?.at ?? Number.POSITIVE_INFINITY;
      const next = moves[k + 1]?.before ?? after;
      const coa = topo.careOf(6, m.to);
      const old = topo.careOf(6, m.from);
      const mine = down.filter((f) => f.time >= m.at && f.time < until);
      const firstDirect = mine.find((f) => f.dst === coa);
      const reg = registrations.find((r) => r.time >= m.at && r.rec['to'] === coa);
      const ver = verified.find((r) => r.time >= m.at && String(r.rec['coa']).startsWith(`[${coa}]`));
      return {
        to: m.to,
        careOf: coa,
        atSeconds: (m.at - started) / 1000,
        atBytes: m.atBytes,
        registrationMs: typeof reg?.rec['signallingMs'] === 'number' ? reg.rec['signallingMs'] : null,
        coaVerifiedMs: ver ? ver.time - m.at : null,
        handover: { observations: next.count - m.before.count, seconds: next.sum - m.before.sum },
        correspondentPackets: {
          direct: mine.filter((f) => f.dst === coa).length,
          viaHome: mine.filter((f) => f.dst === hoa).length,
          oldCareOf: mine.filter((f) => f.dst === old).length,
        },
        directAfterMs: firstDirect ? Math.round(firstDirect.time - m.at) : null,
      };
    });
    const careOfs = new Set([topo.careOf(6, 'A'), topo.careOf(6, 'B')]);
    const toMobile = frames.filter((f) => f.spi === cfg.cnToMn!.spi && f.src === cn6 && careOfs.has(f.dst)).map((f) => f.size);
    const fromMobile = frames.filter((f) => f.spi === cfg.mnToCn!.spi && f.dst === cn6 && careOfs.has(f.src)).map((f) => f.size);
    const seconds = (ended - started) / 1000;
    const ok = out.received.bytes === options.bytes && out.received.sha256 === out.expected.sha256 && out.sent.sha256 === out.expected.sha256;
    return {
      ok,
      bytes: options.bytes,
      received: out.received.bytes,
      sha256: { sent: out.sent.sha256, received: out.received.sha256, expected: out.expected.sha256 },
      seconds,
      throughputMbps: (out.received.bytes * 8) / seconds / 1e6,
      accessMbit: options.mbit,
      homeAddress: hoa,
      correspondent: cn6,
      moves: report,
      wire: { toMobile: wireStats(toMobile), fromMobile: wireStats(fromMobile), all: wireStats([...toMobile, ...fromMobile]) },
    };
  }
}

function ms(v: number | null): string {
  return v === null ? 'n/a' : `${Math.round(v)} ms`;
}

/** The human report. */
export function formatDemoReport(r: DemoReport): string {
  const lines: string[] = [];
  const mb = (n: number): string => `${(n / MB).toFixed(1)} MB`;
  lines.push('', `iro demo: a mobile node roams between two networks during a TCP transfer`, '');
  lines.push(`  transfer      ${mb(r.bytes)} from the correspondent ${r.correspondent} to the home address ${r.homeAddress}`);
  lines.push(
    r.ok
      ? `  integrity     OK: ${r.received} bytes arrived, SHA-256 ${r.sha256.received.slice(0, 16)}... equal at both ends`
      : `  integrity     FAILED: ${r.received} of ${r.bytes} bytes arrived; SHA-256 sent ${r.sha256.sent.slice(0, 16)}..., received ${r.sha256.received.slice(0, 16)}...`,
  );
  lines.push(`  throughput    ${r.throughputMbps.toFixed(0)} Mbit/s over ${r.seconds.toFixed(1)} s, moves included (access links shaped to ${r.accessMbit} Mbit/s)`);
  for (const [k, m] of r.moves.entries()) {
    const p = m.correspondentPackets;
    const total = p.direct + p.viaHome + p.oldCareOf;
    const share = total === 0 ? 0 : (100 * p.direct) / total;
    lines.push(`  move ${k + 1}        to network ${m.to} (care-of address ${m.careOf}) at ${m.atSeconds.toFixed(1)} s, ${mb(m.atBytes)} received; seen by iro itself`);
    lines.push(`    registered  with the home agent in ${ms(m.registrationMs)} (Binding Update -> Binding Ack)`);
    lines.push(`    handover    ${(m.handover.seconds * 1000).toFixed(0)} ms without data at the mobile node (iro_handover_duration_seconds, ${m.handover.observations} path change${m.handover.observations === 1 ? '' : 's'})`);
    lines.push(
      m.directAfterMs === null
        ? '    route opt.  the correspondent never sent directly to the new care-of address'
        : `    route opt.  the correspondent's first packet to the new care-of address (the CoA test) ${m.directAfterMs} ms after the move; verified at ${ms(m.coaVerifiedMs)}`,
    );
    lines.push(`                its packets after the move: ${share.toFixed(1)} % direct, ${p.viaHome} through the home agent, ${p.oldCareOf} to the old address`);
  }
  const wire = (what: string, w: WireStats): string =>
    `${what} ${w.packets} packets of ${w.iroBytesPerPacket.toFixed(1)} bytes on average; RFC 3776 ${w.rfc3776BytesPerPacket.toFixed(1)} (+${RFC3776_EXTRA_BYTES}, +${w.extraPercent.toFixed(2)} %)`;
  lines.push(`  wire          direct MN <-> CN ESP, real sizes from the capture, IPv6 header included; RFC 3776 adds a HAO or an RH2 to each:`);
  lines.push(`    ${wire('to the MN  ', r.wire.toMobile)}`);
  lines.push(`    ${wire('from the MN', r.wire.fromMobile)}`);
  lines.push(`    ${wire('all        ', r.wire.all)}: ${(r.wire.all.savedBytes / MB).toFixed(2)} MB saved`);
  lines.push('');
  return lines.join('\n');
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'roam a mobile node between two networks mid-transfer, in a lab (root)',
  usage: USAGE,
  async run(args, io: CliIo) {
    const options = parseOptions(args);
    const progress = (text: string): void => io.err(`iro demo: ${text}\n`);
    assertLabPrivileges();
    const installed = ensureTools(['tcpdump', 'tshark']);
    if (installed.length > 0) progress(`installed ${installed.join(', ')}`);
    sweepStaleNamespaces(LAB_PREFIX);
    // This command stops gracefully on signals itself: teardown, then exit 130.
    const lab = new Lab({ prefix: LAB_PREFIX, signals: false });
    let interrupted = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (interrupted) return;
      interrupted = true;
      progress(`${signal}: removing the lab`);
      void lab.teardown().finally(() => process.exit(INTERRUPTED));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let report: DemoReport | null = null;
    try {
      const demo = new Demo(lab, options, progress);
      await demo.setUp();
      const { out, started, ended, moves } = await demo.run();
      if (moves.length < 2) throw new IroError('ERR_STATE', `the transfer ended before the mobile node could move twice (${moves.length} moves); try a larger --bytes or a smaller --mbit`);
      report = await demo.report(out, started, ended, moves);
    } finally {
      const problems = await lab.teardown();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (!interrupted) progress(problems.length === 0 ? 'lab removed' : `lab removed with problems:\n${problems.join('\n')}`);
    }
    io.out(options.json ? JSON.stringify(report, null, 2) + '\n' : formatDemoReport(report));
    return report.ok ? ExitCode.OK : ExitCode.FAILURE;
  },
};
