/**
 * The daemon's MetricsSource (metrics/types.ts): everything is read at scrape time from the
 * counters the data path already keeps (SA records, the dataplane's tallies, the mobility
 * agent's counts), so the hot path never touches prom-client (STYLE: gauges computed at scrape
 * time).
 */
import type { Dataplane } from '../../dataplane/dataplane.js';
import type { DataplanePeer } from '../../dataplane/types.js';
import type { BuildInfo, MetricsSource, PeerRole, PeerSnapshot, TunSnapshot } from '../../metrics/types.js';
import type { SecurityAssociation } from '../../sad/sa.js';
import { newDropTally } from '../../util/drop.js';

/** What the mobility agent reports per peer (zero when mobility is not in use). */
export interface MobilityCounts {
  bindingUpdates(peer: string): Readonly<Record<string, number>>;
  handovers(peer: string): number;
  bindings(): Partial<Record<PeerRole, number>>;
}

const MS_PER_S = 1000;

export class DaemonMetricsSource implements MetricsSource {
  private readonly build: BuildInfo;
  private readonly peersOf: () => readonly DataplanePeer[];
  private readonly dataplane: () => Dataplane | null;
  private readonly mobility: () => MobilityCounts | null;
  private readonly queueDepth: () => number;

  constructor(
    build: BuildInfo,
    peers: () => readonly DataplanePeer[],
    dataplane: () => Dataplane | null,
    mobility: () => MobilityCounts | null,
    queueDepth: () => number,
  ) {
    this.build = build;
    this.peersOf = peers;
    this.dataplane = dataplane;
    this.mobility = mobility;
    this.queueDepth = queueDepth;
  }

  buildInfo(): BuildInfo {
    return this.build;
  }

  *peers(): Iterable<PeerSnapshot> {
    const m = this.mobility();
    for (const p of this.peersOf()) {
      const outs: SecurityAssociation[] = p.signalOut === p.payloadOut ? [p.payloadOut] : [p.payloadOut, p.signalOut];
      const ins: SecurityAssociation[] = p.signalIn === p.payloadIn ? [p.payloadIn] : [p.payloadIn, p.signalIn];
      let packetsOut = 0;
      let bytesOut = 0;
      let packetsIn = 0;
      let bytesIn = 0;
      let lastRx = 0;
      for (const sa of outs) {
        packetsOut += sa.packets;
        bytesOut += sa.bytes;
      }
      for (const sa of ins) {
        packetsIn += sa.packets;
        bytesIn += sa.bytes;
        lastRx = Math.max(lastRx, sa.lastAuthRx);
      }
      const out = p.payloadOut;
      yield {
        name: p.name,
        role: p.role,
        cipher: p.cipher,
        up: out.installed && (out.peerLocator !== null || out.mode === 'transport'),
        packetsIn,
        packetsOut,
        bytesIn,
        bytesOut,
        lastAuthenticatedRx: lastRx / MS_PER_S,
        seqRatioOut: out.sequenceRatio(),
        seqRatioIn: p.payloadIn.sequenceRatio(),
        bindingUpdates: m?.bindingUpdates(p.name) ?? {},
        handovers: m?.handovers(p.name) ?? 0,
      };
    }
  }

  tun(): TunSnapshot {
    const c = this.dataplane()?.counters;
    return {
      readPackets: c?.tunReadPackets ?? 0,
      readBytes: c?.tunReadBytes ?? 0,
      writtenPackets: c?.tunWrittenPackets ?? 0,
      writtenBytes: c?.tunWrittenBytes ?? 0,
    };
  }

  drops(direction: 'in' | 'out'): Float64Array {
    const c = this.dataplane()?.counters;
    if (c === undefined) return newDropTally();
    return direction === 'in' ? c.dropsIn : c.dropsOut;
  }

  bindings(): Partial<Record<PeerRole, number>> {
    return this.mobility()?.bindings() ?? {};
  }

  poolQueueDepth(): number {
    return this.queueDepth();
  }
}
