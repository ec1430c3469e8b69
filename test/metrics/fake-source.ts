/**
 * A MetricsSource for tests: plain mutable state the test changes between scrapes, plus a count of
 * how often each scrape read the peer list.
 */
import { newDropTally } from '../../src/util/drop.js';
import type { BuildInfo, Direction, MetricsSource, PeerRole, PeerSnapshot, TunSnapshot } from '../../src/metrics/types.js';

export type MutablePeer = { -readonly [K in keyof PeerSnapshot]: PeerSnapshot[K] };
type MutableTun = { -readonly [K in keyof TunSnapshot]: TunSnapshot[K] };

export function fakePeer(name: string, role: PeerRole = 'home-agent', cipher = 'aes128gcm16'): MutablePeer {
  return {
    name,
    role,
    cipher,
    up: false,
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    lastAuthenticatedRx: 0,
    seqRatioOut: 0,
    seqRatioIn: 0,
    bindingUpdates: {},
    handovers: 0,
  };
}

export class FakeSource implements MetricsSource {
  build: BuildInfo = { version: '0.1.0', nodeVersion: 'v20.20.0', backend: 'native-free', crypto: 'node' };
  peerList: MutablePeer[] = [];
  tunState: MutableTun = { readPackets: 0, readBytes: 0, writtenPackets: 0, writtenBytes: 0 };
  dropTally: Record<Direction, Float64Array> = { in: newDropTally(), out: newDropTally() };
  bindingCounts: Partial<Record<PeerRole, number>> = {};
  queueDepth = 0;
  peersCalls = 0;

  buildInfo(): BuildInfo {
    return this.build;
  }
  peers(): Iterable<PeerSnapshot> {
    this.peersCalls++;
    return this.peerList;
  }
  tun(): TunSnapshot {
    return this.tunState;
  }
  drops(direction: Direction): Float64Array {
    return this.dropTally[direction];
  }
  bindings(): Partial<Record<PeerRole, number>> {
    return this.bindingCounts;
  }
  poolQueueDepth(): number {
    return this.queueDepth;
  }
}
