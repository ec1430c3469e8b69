/**
 * From repetitions to conclusions: each contender's medians and spread, the best peer on each
 * measure, and iro's ratios against it. Ratios are taken only inside one run (noise between runs
 * is ~30 %, LAB.md); the targets are those of the issue: iro TCP goodput >= the best peer's,
 * idle RTT <= the best peer's, no queue_full drops, Prometheus within 5 % of iperf3.
 */
import { AGREEMENT_TARGET } from './prometheus.js';
import { summarize, type Summary } from './stats.js';
import type { BestPeer, ContenderReport, ContenderSummary, IroComparison, PromReading, RepResult } from './types.js';

function promDiff(r: PromReading | undefined): number | null {
  return r !== undefined && 'relativeDifference' in r ? r.relativeDifference : null;
}

export function summarizeReps(reps: readonly RepResult[]): ContenderSummary {
  const ok = reps.filter((r) => r.ok);
  const s = (f: (r: RepResult) => number | null | undefined): Summary | null => summarize(ok.map(f));
  const dropReads = ok.filter((r) => r.drops !== null);
  const queueFull = (d: Readonly<Record<string, number>>): number =>
    Object.entries(d)
      .filter(([k]) => k.endsWith('/queue_full'))
      .reduce((sum, [, v]) => sum + v, 0);
  return {
    tcp1BitsPerSecond: s((r) => r.tcp1?.bitsPerSecond),
    tcp4BitsPerSecond: s((r) => r.tcp4?.bitsPerSecond),
    tcp1Retransmits: s((r) => r.tcp1?.retransmits),
    udpBitsPerSecond: s((r) => r.udp?.bitsPerSecond),
    udpLossPercent: s((r) => r.udp?.lossPercent),
    udpReceiverSocketLossPercent: s((r) => r.udp?.receiverSocketLossPercent),
    pingIdleP50Ms: s((r) => r.pingIdle?.p50Ms),
    pingIdleP99Ms: s((r) => r.pingIdle?.p99Ms),
    pingLoadP50Ms: s((r) => r.pingLoad?.p50Ms),
    pingLoadP99Ms: s((r) => r.pingLoad?.p99Ms),
    cpuSecondsPerGBTcp1: s((r) => r.tcp1?.cpuSecondsPerGB),
    cpuSecondsPerGBTcp4: s((r) => r.tcp4?.cpuSecondsPerGB),
    cpuSecondsPerGBUdp: s((r) => r.udp?.cpuSecondsPerGB),
    promTcp1RelativeDifference: s((r) => promDiff(r.prometheus?.tcp1)),
    promTcp4RelativeDifference: s((r) => promDiff(r.prometheus?.tcp4)),
    promUdpRelativeDifference: s((r) => promDiff(r.prometheus?.udp)),
    queueFullDrops: dropReads.length > 0 ? dropReads.reduce((sum, r) => sum + queueFull(r.drops!.a) + queueFull(r.drops!.b), 0) : null,
  };
}

function best(peers: readonly ContenderReport[], pick: (s: ContenderSummary) => Summary | null, higherIsBetter: boolean): BestPeer | null {
  let found: BestPeer | null = null;
  for (const p of peers) {
    const v = pick(p.summary)?.median;
    if (v === undefined) continue;
    if (found === null || (higherIsBetter ? v > found.value : v < found.value)) found = { id: p.id, value: v };
  }
  return found;
}

export function compare(contenders: readonly ContenderReport[]): {
  bestPeer: { tcp1: BestPeer | null; tcp4: BestPeer | null; pingIdle: BestPeer | null };
  iro: IroComparison[];
} {
  const peers = contenders.filter((c) => c.kind === 'peer');
  const bestPeer = {
    tcp1: best(peers, (s) => s.tcp1BitsPerSecond, true),
    tcp4: best(peers, (s) => s.tcp4BitsPerSecond, true),
    pingIdle: best(peers, (s) => s.pingIdleP50Ms, false),
  };
  const ratio = (v: number | undefined, ref: BestPeer | null): number | null => (v === undefined || ref === null ? null : v / ref.value);
  const iro = contenders
    .filter((c) => c.kind === 'iro')
    .map((c): IroComparison => {
      const s = c.summary;
      const tcp1Ratio = ratio(s.tcp1BitsPerSecond?.median, bestPeer.tcp1);
      const tcp4Ratio = ratio(s.tcp4BitsPerSecond?.median, bestPeer.tcp4);
      const pingIdleRatio = ratio(s.pingIdleP50Ms?.median, bestPeer.pingIdle);
      const diffs = [s.promTcp1RelativeDifference?.median, s.promTcp4RelativeDifference?.median].filter(
        (d): d is number => d !== undefined,
      );
      const promTcpWorstDifference = diffs.length > 0 ? Math.max(...diffs.map(Math.abs)) : null;
      const tcpRatios = [tcp1Ratio, tcp4Ratio].filter((r): r is number => r !== null);
      return {
        id: c.id,
        tcp1Ratio,
        tcp4Ratio,
        pingIdleRatio,
        pingLoadP99Ms: s.pingLoadP99Ms?.median ?? null,
        queueFullDrops: s.queueFullDrops,
        promTcpWorstDifference,
        targets: {
          tcpGoodputAtLeastBestPeer: tcpRatios.length > 0 ? tcpRatios.every((r) => r >= 1) : null,
          idlePingAtMostBestPeer: pingIdleRatio === null ? null : pingIdleRatio <= 1,
          noQueueFullDrops: s.queueFullDrops === null ? null : s.queueFullDrops === 0,
          prometheusWithin5Percent: promTcpWorstDifference === null ? null : promTcpWorstDifference <= AGREEMENT_TARGET,
        },
      };
    });
  return { bestPeer, iro };
}
