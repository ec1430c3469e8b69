/**
 * The human-readable report (bench/results/<date>.md): one table of every contender, iro against
 * the best peer, Prometheus against iperf3, failures, and how it was measured. Numbers are
 * medians across repetitions with the range [min–max].
 */
import { AGREEMENT_TARGET, SCRAPE_INTERVAL_S } from './prometheus.js';
import { summarize, type Summary } from './stats.js';
import type { ContenderReport, ContenderSummary, IroComparison, PromReading, Report } from './types.js';

const DASH = '—';
/** Runs shorter than this many seconds (i.e. scrapes) make the Prometheus comparison coarse. */
const SHORT_WINDOW_S = 10;

function fixed(v: number, digits: number): string {
  return v.toFixed(digits);
}

/** Significant-figure formatting for values whose scale varies (RTTs, CPU). */
function sig(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
}

function gbit(s: Summary | null): string {
  if (s === null) return DASH;
  const g = (v: number): string => fixed(v / 1e9, 2);
  return s.n > 1 ? `${g(s.median)} [${g(s.min)}–${g(s.max)}]` : g(s.median);
}

function plain(s: Summary | null, unit = ''): string {
  if (s === null) return DASH;
  return s.n > 1 ? `${sig(s.median)}${unit} [${sig(s.min)}–${sig(s.max)}]` : `${sig(s.median)}${unit}`;
}

function pct(v: number | null, signed = false): string {
  if (v === null) return DASH;
  const t = (v * 100).toFixed(1) + ' %';
  return signed && v > 0 ? '+' + t : t;
}

function ratio(v: number | null): string {
  return v === null ? DASH : `${v.toFixed(2)}×`;
}

function check(v: boolean | null): string {
  return v === null ? DASH : v ? 'yes' : '**no**';
}

/** Table cells may not contain pipes or newlines. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

function statusNote(c: ContenderReport): string {
  if (c.status === 'failed') return `failed: ${c.error ?? 'unknown reason'}`;
  if (c.status === 'partial') return `${c.reps.filter((r) => !r.ok).length} of ${c.reps.length} repetitions failed: ${c.error}`;
  return '';
}

function udpLoss(s: ContenderSummary): string {
  if (s.udpLossPercent === null) return DASH;
  const socket = s.udpReceiverSocketLossPercent;
  return `${sig(s.udpLossPercent.median)} %${socket !== null ? ` (${sig(socket.median)} %)` : ''}`;
}

function mainTable(report: Report): string[] {
  const lines = [
    '| contender | TCP -P 1 Gbit/s | TCP -P 4 Gbit/s | UDP 1400 B rx Gbit/s | UDP loss (of it at the receiving socket) | ping idle p50 ms | ping under load p50 / p99 ms | CPU s/GB TCP -P 1 | CPU s/GB TCP -P 4 | MTU |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of report.contenders) {
    const s = c.summary;
    if (c.status === 'failed') {
      lines.push(`| ${cell(c.label)} | ${cell(statusNote(c))} | | | | | | | | |`);
      continue;
    }
    const load = s.pingLoadP50Ms && s.pingLoadP99Ms ? `${sig(s.pingLoadP50Ms.median)} / ${sig(s.pingLoadP99Ms.median)}` : DASH;
    const mtu = c.reps.find((r) => r.mtu !== null)?.mtu;
    const label = c.status === 'partial' ? `${c.label} (partial)` : c.label;
    lines.push(
      `| ${cell(label)} | ${gbit(s.tcp1BitsPerSecond)} | ${gbit(s.tcp4BitsPerSecond)} | ${gbit(s.udpBitsPerSecond)} | ` +
        `${udpLoss(s)} | ${plain(s.pingIdleP50Ms)} | ${load} | ` +
        `${plain(s.cpuSecondsPerGBTcp1)} | ${plain(s.cpuSecondsPerGBTcp4)} | ${mtu !== undefined && Number.isFinite(mtu) ? mtu : DASH} |`,
    );
  }
  return lines;
}

function iroTable(report: Report): string[] {
  if (report.comparison.iro.length === 0) return ['No iro variant was selected in this run.'];
  const b = report.comparison.bestPeer;
  const name = (x: { id: string; value: number } | null, fmt: (v: number) => string): string =>
    x === null ? 'none measured' : `${x.id} (${fmt(x.value)})`;
  const lines = [
    `Best peer: TCP -P 1 ${name(b.tcp1, (v) => `${fixed(v / 1e9, 2)} Gbit/s`)}; TCP -P 4 ${name(b.tcp4, (v) => `${fixed(v / 1e9, 2)} Gbit/s`)}; ` +
      `idle ping p50 ${name(b.pingIdle, (v) => `${sig(v)} ms`)}.`,
    '',
    '| iro variant | TCP -P 1 vs best | TCP -P 4 vs best | idle ping vs best | p99 under load ms | queue_full drops | Prometheus vs iperf3 (TCP, worst) | goodput ≥ best | idle RTT ≤ best | no queue_full | Prometheus within 5 % |',
    '|---|---:|---:|---:|---:|---:|---:|:-:|:-:|:-:|:-:|',
  ];
  const byId = new Map(report.contenders.map((c) => [c.id, c]));
  for (const i of report.comparison.iro) {
    const c = byId.get(i.id)!;
    if (c.status === 'failed') {
      lines.push(`| ${cell(c.label)} | ${cell(statusNote(c))} | | | | | | | | | |`);
      continue;
    }
    lines.push(iroRow(c.label, i));
  }
  return lines;
}

function iroRow(label: string, i: IroComparison): string {
  const t = i.targets;
  return (
    `| ${cell(label)} | ${ratio(i.tcp1Ratio)} | ${ratio(i.tcp4Ratio)} | ${ratio(i.pingIdleRatio)} | ` +
    `${i.pingLoadP99Ms === null ? DASH : sig(i.pingLoadP99Ms)} | ${i.queueFullDrops ?? DASH} | ${pct(i.promTcpWorstDifference)} | ` +
    `${check(t.tcpGoodputAtLeastBestPeer)} | ${check(t.idlePingAtMostBestPeer)} | ${check(t.noQueueFullDrops)} | ${check(t.prometheusWithin5Percent)} |`
  );
}

function promTable(report: Report): string[] {
  const lines = [
    '| iro variant | test | iperf3 goodput Gbit/s | ESP as iro counts it Gbit/s | wire (outer IPv4 on the veth) Gbit/s | payload-equivalent Gbit/s | difference |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  const tests = [
    ['tcp1', 'TCP -P 1'],
    ['tcp4', 'TCP -P 4'],
    ['udp', 'UDP 1400 B'],
  ] as const;
  for (const c of report.contenders.filter((x) => x.kind === 'iro' && x.status !== 'failed')) {
    for (const [key, name] of tests) {
      const readings = c.reps.map((r) => r.prometheus?.[key]).filter((r): r is PromReading => r !== undefined);
      const good = readings.filter((r): r is Exclude<PromReading, { error: string }> => 'relativeDifference' in r);
      if (good.length === 0) {
        const err = readings.find((r): r is { error: string } => 'error' in r);
        lines.push(`| ${cell(c.label)} | ${name} | ${cell(err ? `no reading: ${err.error}` : 'no reading')} | | | | |`);
        continue;
      }
      const m = (f: (r: (typeof good)[number]) => number): Summary | null => summarize(good.map(f));
      const diff = m((r) => r.relativeDifference)!.median;
      lines.push(
        `| ${cell(c.label)} | ${name} | ${gbit(m((r) => r.iperfBitsPerSecond))} | ${gbit(m((r) => r.espBitsPerSecond))} | ` +
          `${gbit(m((r) => r.wireBitsPerSecond))} | ${gbit(m((r) => r.payloadBitsPerSecond))} | ${pct(diff, true)} |`,
      );
    }
  }
  return lines;
}

function prometheusSection(report: Report): string[] {
  if (!report.contenders.some((c) => c.kind === 'iro')) return ['No iro variant was selected in this run, so Prometheus was not started.'];
  return [
    `Prometheus (${report.prometheus.version ?? 'not started'}; ${report.prometheus.status}) ran inside namespace B with a generated config, ` +
      `scraping iro's /metrics every ${SCRAPE_INTERVAL_S} s. After each run it was asked for ` +
      '`increase(iro_bytes_total{direction="in"}[W])` and `increase(iro_packets_total{direction="in"}[W])` over exactly the iperf3 ' +
      'transfer window W, evaluated at its end. iro counts each ESP packet from the SPI to the ICV, so:',
    '',
    '- *ESP* = bytes / W, as iro counts them;',
    '- *wire* = ESP + 20 bytes outer IPv4 (+ 8 UDP with UDP encapsulation) per packet: the rate on the veth;',
    '- *payload-equivalent* = ESP − packets × (8 SPI+sequence + 8 IV + pad + 2 trailer + 16 ICV + 20 inner IPv4 + 32 TCP with timestamps, or 8 UDP), ' +
      'pad aligning a full-sized packet to 4 bytes: the rate comparable with iperf3\'s goodput ' +
      '(TCP retransmissions make it slightly higher, undersized packets slightly lower).',
    '',
    `Target: payload-equivalent within ${AGREEMENT_TARGET * 100} % of iperf3 for the TCP runs. UDP is shown for information: ` +
      'datagrams iro delivered that the receiving socket then dropped (its buffer full; the share is in the main table) count here and not in iperf3.' +
      (report.options.durationSeconds < SHORT_WINDOW_S
        ? ` These ${report.options.durationSeconds}-second windows hold only a few scrapes, so increase()'s extrapolation ` +
          'to the window edges (where the rate is still ramping) weighs heavily: judge the agreement on full-length runs.'
        : ''),
    '',
    ...promTable(report),
  ];
}

function failures(report: Report): string[] {
  const out: string[] = [];
  if (!report.install.ok && report.install.error !== null) {
    out.push(`- install: ${report.install.error}. Run: \`${report.install.command}\``);
  }
  if (report.prometheus.status.startsWith('failed')) out.push(`- Prometheus: ${report.prometheus.status}`);
  for (const c of report.contenders) {
    if (c.status !== 'ok') out.push(`- ${c.label} (\`${c.id}\`): ${statusNote(c)}`);
  }
  return out;
}

export function renderMarkdown(report: Report): string {
  const e = report.environment;
  const o = report.options;
  const commit = e.gitCommit === null ? 'no git commit' : `commit ${e.gitCommit.slice(0, 12)}${e.gitDirty ? ' (uncommitted changes)' : ''}`;
  const out: string[] = [
    '# iro bench: userspace tunnels side by side',
    '',
    `${report.startedAt} · ${o.reps} repetition${o.reps === 1 ? '' : 's'} × ${o.durationSeconds} s per iperf3 run${o.quick ? ' (quick)' : ''} · ` +
      `${e.os} · Linux ${e.kernel.split(' ')[0]} · ${e.cpuModel} (${e.cpuCount} CPUs) · Node ${e.nodeVersion} · ${commit}`,
    '',
    'Medians across repetitions, with [min–max] when there is more than one. Compare only inside one run: ' +
      'the same measurement differs by about 30 % between runs on this kind of machine.',
    '',
    ...mainTable(report),
    '',
    '## iro against the best peer',
    '',
    ...iroTable(report),
    '',
    '## Prometheus in the loop',
    '',
    ...prometheusSection(report),
    '',
  ];
  const f = failures(report);
  if (f.length > 0) out.push('## Failures', '', ...f, '');
  out.push(
    '## Method',
    '',
    `- Lab: namespaces ${report.lab.namespaces.join(' and ')} joined by a veth pair (MTU ${report.lab.vethMtu}), ` +
      `${report.lab.outer.a} ↔ ${report.lab.outer.b}; tunnels carry ${report.lab.inner.a} ↔ ${report.lab.inner.b}. A sends, B receives.`,
    `- Every contender is set up and torn down once per repetition; repetitions are interleaved across contenders (round-robin) so slow drift hits all alike.`,
    `- Goodput: iperf3 \`end.sum_received.bits_per_second\`, ${o.durationSeconds} s per run; UDP: ${o.udpDatagramBytes}-byte datagrams at \`-b 0\`, received rate and loss; ` +
      'the share of datagrams lost at the receiving socket comes from `Udp: RcvbufErrors` in namespace B.',
    `- Ping: ${o.idlePingCount} echo requests ${o.pingIntervalSeconds * 1000} ms apart when idle; under load, the same interval during the TCP -P 1 run; p50/p99 per repetition.`,
    '- CPU: utime+stime of the tunnel processes (both ends, all threads) from /proc/PID/stat over each iperf3 run, per 10⁹ bytes delivered.',
    '- MTUs: each tunnel\'s largest MTU that fits the 1500-byte veth, except strongSwan 5.9 libipsec, whose TUN MTU is fixed by the plugin.',
    '- Tunnels: wireguard-go (ChaCha20-Poly1305, UDP); strongSwan charon with kernel-libipsec (IKEv2 PSK, ESP in UDP, negotiated cipher checked); ' +
      'OpenVPN 2.6 TLS p2p, AES-256-GCM data channel, `--disable-dco`; iro as mobile node (A) and home agent (B), tunnel-mode SA pair, keys from its config.',
  );
  const notes = report.contenders.filter((c) => Object.keys(c.notes).length > 0);
  if (notes.length > 0) {
    out.push('- As found at setup: ' + notes.map((c) => `${c.label}: ${Object.entries(c.notes).map(([k, v]) => `${k} ${v}`).join(', ')}`).join('; ') + '.');
  }
  if (report.install.packages.length > 0) {
    out.push(`- Installed for this run: ${report.install.packages.join(' ')} (${report.install.seconds.toFixed(0)} s, ${report.install.ok ? 'ok' : 'failed'}).`);
  }
  out.push('');
  return out.join('\n');
}
