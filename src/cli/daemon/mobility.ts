/**
 * The daemon side of IRO: feeds the pure agents of iro/ (MobileNode, HomeAgent, Correspondent)
 * with events — Mobility Headers that arrived inside an SA, movement, timers, `iro roam` — and
 * carries out the actions they return: locator changes on the SAs (the only way a binding ever
 * moves the data path, PROTOCOL.md F.10), Mobility Headers sent through the outbound pipeline,
 * NAT keepalives (RFC 3948 §4), metrics counts and persisted BU sequence numbers.
 */
import { randomBytes } from 'node:crypto';
import type { IroConfig, PeerConfig } from '../../config/types.js';
import type { Dataplane } from '../../dataplane/dataplane.js';
import type { DataplanePeer, MhArrivalInfo, TransportTable } from '../../dataplane/types.js';
import {
  Correspondent,
  HomeAgent,
  MobileNode,
  locator,
  writeMhToSend,
  type IroAction,
  type Locator,
  type MhToSend,
  type RefusalReason,
} from '../../iro/index.js';
import type { PeerRole } from '../../metrics/types.js';
import { IPPROTO_MH } from '../../packet/constants.js';
import { writeIpv6Header } from '../../packet/ipv6.js';
import { parseMh } from '../../packet/mh.js';
import type { SecurityAssociation } from '../../sad/sa.js';
import type { StateStore } from '../../state/index.js';
import { formatIp, parseIp } from '../../util/addr.js';
import { IroError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import { currentCareOf, MovementMonitor } from './movement.js';
import type { MobilityCounts } from './source.js';
import type { Tables } from './tables.js';

const MH_PACKET_ROOM = 256;
const IPV6_HDR = 40;

type Agent = MobileNode | HomeAgent | Correspondent;

export interface MobilityOptions {
  readonly config: IroConfig;
  readonly tables: Tables;
  readonly state: StateStore;
  readonly log: Logger;
  readonly onHandover: (peer: string, seconds: number) => void;
}

/** The metrics result key of a refusal (`iro_binding_updates_total{result}`). */
function refusedKey(reason: RefusalReason | undefined): string {
  switch (reason) {
    case 'sequence':
      return 'refused_sequence';
    case 'auth':
      return 'refused_auth';
    case 'address':
    case 'identity':
      return 'refused_address';
    case 'expired':
      return 'expired';
    case 'prohibited':
      return 'refused_prohibited';
    default:
      return `refused_${reason ?? 'status'}`;
  }
}

function endpointLocator(pc: PeerConfig): Locator | null {
  const a = pc.endpoint?.address ?? null;
  return a === null ? null : locator(a, pc.encapsulation === 'udp' ? pc.endpoint!.port : 0);
}

export class Mobility implements MobilityCounts {
  private readonly config: IroConfig;
  private readonly tables: Tables;
  private readonly state: StateStore;
  private readonly log: Logger;
  private readonly onHandover: (peer: string, seconds: number) => void;
  private readonly agent: Agent | null;
  private readonly byName = new Map<string, DataplanePeer>();
  private readonly bu = new Map<string, Record<string, number>>();
  private readonly handoverCount = new Map<string, number>();
  private readonly bindingCounts: Partial<Record<PeerRole, number>> = {};
  private readonly keepalives = new Map<string, NodeJS.Timeout>();
  private readonly lastCoa = new Map<string, string>();
  private dataplane: Dataplane | null = null;
  private transports: TransportTable | null = null;
  private timer: NodeJS.Timeout | null = null;
  private monitor: MovementMonitor | null = null;
  /** A CoA forced with `iro roam`; movement detection leaves it alone until `roam auto`. */
  private forced = false;
  private stopped = false;

  constructor(options: MobilityOptions) {
    this.config = options.config;
    this.tables = options.tables;
    this.state = options.state;
    this.log = options.log;
    this.onHandover = options.onHandover;
    for (const p of this.tables.peers) this.byName.set(p.name, p);
    this.agent = this.createAgent();
  }

  private createAgent(): Agent | null {
    const { config } = this;
    const iface = config.interface;
    const v6 = (addrs: readonly Uint8Array[]): Uint8Array | undefined => addrs.find((a) => a.length === 16);
    const v4 = (addrs: readonly Uint8Array[]): Uint8Array | undefined => addrs.find((a) => a.length === 4);
    if (iface.role === 'mobile-node') {
      const hoa = v6(iface.homeAddresses.map((p) => p.addr));
      const ha = config.peers.find((p) => p.role === 'home-agent');
      if (hoa === undefined || ha === undefined) return null;
      const hoa4 = v4(iface.homeAddresses.map((p) => p.addr));
      const endpoints = [endpointLocator(ha)].filter((l): l is Locator => l !== null);
      const last: Record<string, number> = {};
      for (const p of config.peers) {
        const s = this.state.buSequence(p.name);
        if (s !== undefined) last[p.name] = s;
      }
      return new MobileNode({
        homeAddress: hoa,
        ...(hoa4 ? { homeAddress4: hoa4 } : {}),
        homeAgent: ha.name,
        homeAgentEndpoints: endpoints,
        correspondents: config.peers.filter((p) => p.role === 'correspondent' && p.routeOptimization).map((p) => p.name),
        homeLifetimeS: ha.bindingLifetime,
        coTestMhType: iface.coTestType,
        lastSequence: last,
      });
    }
    const mns = config.peers.filter((p) => p.role === 'mobile-node');
    if (iface.role === 'home-agent') {
      const peers = mns.flatMap((p) => {
        const hoa = v6(p.identities);
        if (hoa === undefined) return [];
        const hoa4 = v4(p.identities);
        return [{ peer: p.name, homeAddress: hoa, ...(hoa4 ? { homeAddress4: hoa4 } : {}), nat: p.nat }];
      });
      if (peers.length === 0) return null;
      return new HomeAgent({
        peers,
        maxLifetimeS: Math.max(...mns.map((p) => p.bindingLifetime)),
        udpPort: iface.listenPort,
      });
    }
    const ro = mns.filter((p) => p.routeOptimization && v6(p.identities) !== undefined);
    if (ro.length === 0) return null;
    return new Correspondent({
      peers: ro.map((p) => ({ peer: p.name, homeAddress: v6(p.identities)! })),
      random: (n) => randomBytes(n),
      coTestMhType: iface.coTestType,
      maxLifetimeS: Math.min(420, Math.max(...ro.map((p) => p.bindingLifetime))),
      udpPort: iface.listenPort,
    });
  }

  /** Applies the configured endpoints, then starts movement detection on a mobile node. */
  async start(dataplane: Dataplane, transports: TransportTable): Promise<void> {
    this.dataplane = dataplane;
    this.transports = transports;
    for (const pc of this.config.peers) {
      const peer = this.byName.get(pc.name)!;
      const ep = endpointLocator(pc);
      if (ep !== null) this.setRemote(peer, 'payload', ep);
      if (ep !== null) this.setRemote(peer, 'signal', ep);
      // No NAT seen yet (interval 0): the configured PersistentKeepalive alone applies.
      if (pc.persistentKeepalive !== null && ep !== null) this.keepalive(pc.name, 0);
    }
    if (this.agent instanceof MobileNode) {
      this.monitor = new MovementMonitor(() => void this.detect(), this.log);
      this.monitor.start();
      await this.detect();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.monitor?.stop();
    if (this.timer !== null) clearTimeout(this.timer);
    for (const t of this.keepalives.values()) clearInterval(t);
    this.keepalives.clear();
    if (this.agent instanceof MobileNode) this.persistSequences();
  }

  /** Movement detection: re-evaluates the care-of address and tells the agent when it changed. */
  private async detect(): Promise<void> {
    if (this.stopped || this.forced || !(this.agent instanceof MobileNode)) return;
    const ha = this.config.peers.find((p) => p.role === 'home-agent');
    const towards = ha?.endpoint?.address;
    if (towards === undefined || towards === null) return;
    const coa = await currentCareOf(towards, this.config.interface.careOf, this.tables.identities, this.config.interface.listenPort);
    if (this.stopped || this.forced) return;
    const loc = coa === null ? null : locator(coa, this.config.interface.listenPort);
    const current = this.agent.careOf;
    if (loc === null && current === null) return;
    if (loc !== null && current !== null && formatIp(loc.addr) === formatIp(current.addr)) return;
    this.log.info('care-of address changed', { coa: coa === null ? null : formatIp(coa) });
    this.apply(this.agent.movement(loc, Date.now()));
  }

  /** `iro roam COA|auto`: forces a care-of address (scripts, tests), or returns to detection. */
  async roam(coa: unknown): Promise<unknown> {
    if (!(this.agent instanceof MobileNode)) throw new IroError('ERR_USAGE', 'iro roam applies to a mobile node only');
    if (coa === 'auto') {
      this.forced = false;
      await this.detect();
      return { coa: this.agent.careOf ? formatIp(this.agent.careOf.addr) : null, forced: false };
    }
    const addr = typeof coa === 'string' ? parseIp(coa) : null;
    if (addr === null) throw new IroError('ERR_USAGE', `roam needs an IP address or "auto", got ${JSON.stringify(coa)}`);
    this.forced = true;
    this.apply(this.agent.movement(locator(addr, this.config.interface.listenPort), Date.now()));
    return { coa: formatIp(addr), forced: true };
  }

  /** A Mobility Header arrived inside `peer`'s SA (dataplane inbound step 6). */
  receive(peer: DataplanePeer, mh: Uint8Array, arrival: MhArrivalInfo): void {
    if (this.agent === null || this.stopped) return;
    const msg = parseMh(mh, 0, mh.length, arrival.identitySrc, arrival.identityDst, this.config.interface.coTestType);
    if (typeof msg === 'number') {
      this.log.debug('malformed Mobility Header dropped', { peer: peer.name });
      return;
    }
    const info = { src: locator(arrival.src.addr, arrival.src.port), dst: locator(arrival.dst.addr, arrival.dst.port), identitySrc: arrival.identitySrc };
    this.apply(this.agent.receiveMh(peer.name, msg, info, Date.now()));
  }

  /** The dataplane saw a peer's authenticated traffic move to new outer addresses. */
  dataPathMoved(peer: DataplanePeer, gapSeconds: number): void {
    this.onHandover(peer.name, gapSeconds);
  }

  private apply(actions: readonly IroAction[]): void {
    for (const a of actions) {
      try {
        this.applyOne(a);
      } catch (err) {
        this.log.error('mobility action failed', { action: a.kind, err });
      }
    }
    this.armTimer();
  }

  private applyOne(a: IroAction): void {
    switch (a.kind) {
      case 'set-locators': {
        const peer = this.byName.get(a.peer);
        if (peer === undefined) return;
        if (a.local !== undefined) this.setLocal(peer, a.sa, a.local);
        if (a.remote !== undefined) this.setRemote(peer, a.sa, a.remote);
        return;
      }
      case 'send-mh':
        this.sendMh(a.peer, a.message, a.from, a.to);
        return;
      case 'binding-changed': {
        this.bindingCounts[a.role] = a.bindings;
        const key = a.coa === null ? '' : formatIp(a.coa.addr);
        const prev = this.lastCoa.get(a.peer);
        if (a.role !== 'mobile-node' && a.coa !== null && prev !== undefined && prev !== '' && prev !== key) this.countHandover(a.peer);
        this.lastCoa.set(a.peer, key);
        this.log.info('binding changed', { peer: a.peer, role: a.role, coa: a.coa === null ? null : formatIp(a.coa.addr), verified: a.verified, lifetime: a.lifetimeS });
        return;
      }
      case 'count': {
        const key = a.metric === 'bu-sent' ? 'sent' : a.metric === 'bu-accepted' ? 'accepted' : refusedKey(a.reason);
        const rec = this.bu.get(a.peer) ?? {};
        rec[key] = (rec[key] ?? 0) + 1;
        this.bu.set(a.peer, rec);
        if (a.metric === 'bu-sent' && this.agent instanceof MobileNode) this.persistSequences();
        return;
      }
      case 'handover':
        this.countHandover(a.peer);
        this.log.info('handover', { peer: a.peer, from: formatIp(a.from.addr), to: formatIp(a.to.addr), signallingMs: a.signallingMs });
        return;
      case 'keepalive':
        this.keepalive(a.peer, a.intervalMs);
        return;
      case 'log':
        this.log[a.level](a.msg, a.fields);
        return;
    }
  }

  private countHandover(peer: string): void {
    this.handoverCount.set(peer, (this.handoverCount.get(peer) ?? 0) + 1);
  }

  private sasOf(peer: DataplanePeer, which: 'payload' | 'signal'): SecurityAssociation[] {
    return which === 'payload' ? [peer.payloadOut, peer.payloadIn] : [peer.signalOut, peer.signalIn];
  }

  private setLocal(peer: DataplanePeer, which: 'payload' | 'signal', loc: Locator | null): void {
    for (const sa of this.sasOf(peer, which)) this.tables.sad.updateLocators(sa, { local: loc === null ? null : loc.addr });
    // Mobile node, correspondent with route optimization: direct once it verified our CoA
    // (local locator = CoA), through the home tunnel while the local locator is the HoA.
    if (which === 'payload' && peer.role === 'correspondent' && this.config.interface.role === 'mobile-node') {
      peer.viaHome = loc === null;
    }
  }

  private setRemote(peer: DataplanePeer, which: 'payload' | 'signal', loc: Locator | null): void {
    for (const sa of this.sasOf(peer, which)) {
      const udp = sa.encapsulation === 'udp' && loc !== null && loc.port !== 0;
      this.tables.sad.updateLocators(sa, { peer: loc === null ? null : loc.addr, ...(udp ? { peerPort: loc.port } : {}) });
    }
  }

  private sendMh(peerName: string, message: MhToSend, from: Locator | undefined, to: Locator | undefined): void {
    const peer = this.byName.get(peerName);
    if (peer === undefined || this.dataplane === null) return;
    const ids = peer.signalOut.identities;
    if (ids.local.length !== 16) throw new IroError('ERR_STATE', `peer ${peerName}: Mobility Headers need IPv6 identities`);
    const buf = new Uint8Array(MH_PACKET_ROOM);
    const mhLen = writeMhToSend(buf, IPV6_HDR, message, ids.local, ids.peer);
    writeIpv6Header(buf, 0, ids.local, ids.peer, IPPROTO_MH, mhLen);
    this.dataplane.sendInternal(buf.subarray(0, IPV6_HDR + mhLen), from, to);
  }

  /**
   * (Re)arms the RFC 3948 keepalives of a peer: every `intervalMs` as the agent asks (RFC 5555 NAT
   * Detection; 0 = none needed), but never less often than the configured PersistentKeepalive,
   * which holds whether or not a NAT was detected.
   */
  private keepalive(peerName: string, intervalMs: number): void {
    const old = this.keepalives.get(peerName);
    if (old !== undefined) clearInterval(old);
    this.keepalives.delete(peerName);
    const persistent = this.config.peers.find((p) => p.name === peerName)?.persistentKeepalive ?? null;
    if (persistent !== null) intervalMs = intervalMs > 0 ? Math.min(intervalMs, persistent * 1000) : persistent * 1000;
    if (intervalMs <= 0) return;
    const peer = this.byName.get(peerName);
    if (peer === undefined) return;
    const timer = setInterval(() => {
      const sa = peer.payloadOut;
      const dst = sa.peerLocator;
      if (dst === null || sa.encapsulation !== 'udp') return;
      const t = this.transports?.pick('udp', dst.length === 4 ? 4 : 6);
      t?.sendKeepalive(dst, sa.peerPort, sa.localLocator ?? undefined);
    }, intervalMs);
    timer.unref();
    this.keepalives.set(peerName, timer);
  }

  private armTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.agent === null || this.stopped) return;
    const deadline = this.agent.nextDeadline();
    if (deadline === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.agent !== null && !this.stopped) this.apply(this.agent.tick(Date.now()));
    }, Math.max(0, deadline - Date.now()));
  }

  private persistSequences(): void {
    if (!(this.agent instanceof MobileNode)) return;
    for (const [peer, seq] of Object.entries(this.agent.lastSequences())) this.state.setBuSequence(peer, seq);
    this.state.flush();
  }

  // MobilityCounts (metrics) and `iro show`

  bindingUpdates(peer: string): Readonly<Record<string, number>> {
    return this.bu.get(peer) ?? {};
  }

  handovers(peer: string): number {
    return this.handoverCount.get(peer) ?? 0;
  }

  bindings(): Partial<Record<PeerRole, number>> {
    return this.bindingCounts;
  }

  bindingOf(peer: string): unknown {
    const a = this.agent;
    const fmt = (l: Locator | null | undefined): string | null => (l ? `${formatIp(l.addr)}${l.port ? `:${l.port}` : ''}` : null);
    if (a instanceof MobileNode) {
      const e = a.bindingUpdateList().find((x) => x.peer === peer);
      return e ? { state: e.state, sequence: e.sequence, registeredCoa: fmt(e.registeredCoa), lifetime: e.grantedLifetimeS } : null;
    }
    if (a instanceof HomeAgent) {
      const b = a.binding(peer);
      return b ? { coa: fmt(b.coa), sequence: b.sequence, lifetime: b.lifetimeS, nat: b.natDetected } : null;
    }
    if (a instanceof Correspondent) {
      const b = a.binding(peer);
      return b ? { coa: fmt(b.coa), verified: b.verified, sequence: b.sequence } : null;
    }
    return null;
  }
}
