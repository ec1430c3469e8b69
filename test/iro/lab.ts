/**
 * An in-memory lab for test/iro: a mobile node, its home agent and one correspondent, joined by a
 * tiny model of the dataplane and the network. Every send-mh action is written with the packet
 * builders (checksum over identities) and parsed back at the receiver, its outer addresses come
 * from the locators the node's set-locators actions installed, and the network delivers it only
 * where the MN really is (through the home agent's binding for packets to the HoA, through an
 * optional NAT). Fake time, fixed latency, nothing random.
 */
import { MH_TYPE_EXPERIMENTAL } from '../../src/packet/constants.js';
import { parseMh } from '../../src/packet/mh.js';
import { writeMhToSend, type IroAction, type MhToSend, type SendMhAction } from '../../src/iro/actions.js';
import { Correspondent } from '../../src/iro/correspondent.js';
import { HomeAgent, type HomeAgentPeer } from '../../src/iro/home-agent.js';
import { locator, locatorEquals, type Locator } from '../../src/iro/locator.js';
import { MobileNode, type MobileNodeOptions } from '../../src/iro/mobile-node.js';
import { CN_ID, HA_ID, HOA, countingRandom } from './helpers.js';

export type NodeName = 'mn' | 'ha' | 'cn';

export interface WirePacket {
  at: number;
  from: NodeName;
  to: NodeName;
  message: MhToSend;
  /** Outer addresses as the sender put them on the wire. */
  src: Locator;
  dst: Locator;
  /** What the receiver saw (after NAT / the home tunnel), when delivered. */
  seenSrc?: Locator;
  seenDst?: Locator;
  delivered: boolean;
  /** Why it was not delivered. */
  lost?: string;
}

export interface LoggedAction {
  node: NodeName;
  at: number;
  /** What produced it: 'move', 'tick', or the kind of the message being received. */
  cause: string;
  action: IroAction;
}

type Logged<K extends IroAction['kind']> = LoggedAction & { action: Extract<IroAction, { kind: K }> };

const IDENTITY: Record<NodeName, Uint8Array> = { mn: HOA, ha: HA_ID, cn: CN_ID };

function peerNode(node: NodeName, peer: string): NodeName {
  if (node === 'mn') return peer === 'home' ? 'ha' : 'cn';
  return 'mn';
}

function peerName(receiver: NodeName, sender: NodeName): string {
  if (receiver === 'mn') return sender === 'ha' ? 'home' : 'cn';
  return 'mn';
}

export interface LabOptions {
  mn?: Partial<MobileNodeOptions>;
  haPeer?: Partial<HomeAgentPeer>;
  latencyMs?: number;
}

export class Lab {
  now = 0;
  readonly mn: MobileNode;
  readonly ha: HomeAgent;
  readonly cn: Correspondent;
  /** Where the mobile node really is: a CoA, the home link, or nowhere. */
  mnAt: Locator | 'home' | null = null;
  /** A NAT in front of the MN: `inside` leaves as `outside` and comes back. */
  nat: { inside: Locator; outside: Locator } | null = null;
  readonly latencyMs: number;
  readonly wireLog: WirePacket[] = [];
  readonly actionLog: LoggedAction[] = [];
  /** Return true to lose a packet in the network. */
  dropIf: (p: WirePacket) => boolean = () => false;
  /** Lets a test rewrite a packet's outer source on its way (an on-path attacker). */
  rewriteSrc: (p: WirePacket) => Locator | null = () => null;
  private readonly locs = new Map<string, { local: Locator | null; remote: Locator | null }>();
  private queue: { at: number; pkt: WirePacket; bytes: Uint8Array }[] = [];

  constructor(o: LabOptions = {}) {
    this.latencyMs = o.latencyMs ?? 10;
    this.mn = new MobileNode({ homeAddress: HOA, homeAgent: 'home', correspondents: ['cn'], ...o.mn });
    this.ha = new HomeAgent({ peers: [{ peer: 'mn', homeAddress: HOA, ...o.haPeer }] });
    this.cn = new Correspondent({ peers: [{ peer: 'mn', homeAddress: HOA }], random: countingRandom() });
  }

  /** The locators the dataplane of `node` holds for `peer`'s `sa`. */
  locators(node: NodeName, peer: string, sa: 'payload' | 'signal' = 'signal'): { local: Locator | null; remote: Locator | null } {
    return this.locs.get(`${node}/${peer}/${sa}`) ?? { local: null, remote: null };
  }

  move(to: Locator | 'home' | null): void {
    this.mnAt = to;
    const actions = to === 'home' ? this.mn.atHome(this.now) : this.mn.movement(to, this.now);
    this.apply('mn', 'move', actions);
  }

  /** Runs the network and every node's timers up to `until`. */
  run(until: number): void {
    for (;;) {
      const times = [this.queue[0]?.at ?? null, this.mn.nextDeadline(), this.ha.nextDeadline(), this.cn.nextDeadline()].filter(
        (t): t is number => t !== null,
      );
      const next = times.length > 0 ? Math.max(this.now, Math.min(...times)) : null;
      if (next === null || next > until) break;
      this.now = next;
      while (this.queue.length > 0 && this.queue[0]!.at <= this.now) {
        const q = this.queue.shift()!;
        this.deliver(q.pkt, q.bytes);
      }
      if ((this.mn.nextDeadline() ?? Infinity) <= this.now) this.apply('mn', 'tick', this.mn.tick(this.now));
      if ((this.ha.nextDeadline() ?? Infinity) <= this.now) this.apply('ha', 'tick', this.ha.tick(this.now));
      if ((this.cn.nextDeadline() ?? Infinity) <= this.now) this.apply('cn', 'tick', this.cn.tick(this.now));
    }
    this.now = Math.max(this.now, until);
  }

  actions<K extends IroAction['kind']>(node: NodeName, kind: K): Logged<K>[] {
    return this.actionLog.filter((l): l is Logged<K> => l.node === node && l.action.kind === kind);
  }

  private apply(node: NodeName, cause: string, actions: IroAction[]): void {
    for (const action of actions) {
      this.actionLog.push({ node, at: this.now, cause, action });
      if (action.kind === 'set-locators') {
        const key = `${node}/${action.peer}/${action.sa}`;
        const cur = this.locs.get(key) ?? { local: null, remote: null };
        if (action.local !== undefined) cur.local = action.local;
        if (action.remote !== undefined) cur.remote = action.remote;
        this.locs.set(key, cur);
      } else if (action.kind === 'send-mh') this.send(node, action);
    }
  }

  private send(node: NodeName, a: SendMhAction): void {
    const to = peerNode(node, a.peer);
    const entry = this.locators(node, a.peer);
    const src = a.from ?? entry.local ?? locator(IDENTITY[node]);
    const dst = a.to ?? entry.remote ?? locator(IDENTITY[to]);
    const pkt: WirePacket = { at: this.now, from: node, to, message: a.message, src, dst, delivered: false };
    this.wireLog.push(pkt);
    const buf = new Uint8Array(2048);
    const n = writeMhToSend(buf, 0, a.message, IDENTITY[node], IDENTITY[to]);
    this.queue.push({ at: this.now + this.latencyMs, pkt, bytes: buf.slice(0, n) });
    this.queue.sort((x, y) => x.at - y.at);
  }

  /** The network: where does this packet arrive, and with which outer addresses? */
  private route(p: WirePacket): { seenSrc: Locator; seenDst: Locator } | string {
    const home = locator(HOA);
    let src = this.rewriteSrc(p) ?? p.src;
    if (p.from === 'mn') {
      if (this.mnAt === null) return 'mn has no network';
      if (this.mnAt === 'home') {
        if (!locatorEquals(p.src, home)) return 'mn at home sent from a care-of address';
      } else if (locatorEquals(p.src, home)) {
        // Reverse tunnel: from the CoA to the home agent, then on with the HoA as source.
      } else if (!locatorEquals(p.src, this.mnAt)) return 'mn sent from an address it does not have';
      else if (this.nat && locatorEquals(p.src, this.nat.inside) && src === p.src) src = this.nat.outside;
      return { seenSrc: src, seenDst: p.dst };
    }
    // To the mobile node.
    if (this.mnAt === null) return 'mn has no network';
    if (locatorEquals(p.dst, home)) {
      if (this.mnAt === 'home') return { seenSrc: src, seenDst: p.dst };
      if (p.from === 'ha') return 'home agent sent to the HoA on the home link while the mn is away';
      // Intercepted by the home agent and tunnelled to the CoA it has bound.
      const bound = this.ha.binding('mn')?.coa;
      if (!bound || !this.reaches(bound)) return 'home agent has no binding leading to the mn';
      return { seenSrc: src, seenDst: p.dst };
    }
    if (!this.reaches(p.dst)) return 'no mn at the destination';
    const seenDst = this.nat && locatorEquals(p.dst, this.nat.outside) ? this.nat.inside : p.dst;
    return { seenSrc: src, seenDst };
  }

  /** True when a packet to `dst` reaches the mobile node where it really is. */
  private reaches(dst: Locator): boolean {
    if (this.mnAt === null || this.mnAt === 'home') return false;
    if (this.nat && locatorEquals(this.mnAt, this.nat.inside)) return locatorEquals(dst, this.nat.outside);
    return locatorEquals(dst, this.mnAt);
  }

  private deliver(p: WirePacket, bytes: Uint8Array): void {
    if (this.dropIf(p)) {
      p.lost = 'dropped by the test';
      return;
    }
    const r = this.route(p);
    if (typeof r === 'string') {
      p.lost = r;
      return;
    }
    p.delivered = true;
    p.seenSrc = r.seenSrc;
    p.seenDst = r.seenDst;
    const msg = parseMh(bytes, 0, bytes.length, IDENTITY[p.from], IDENTITY[p.to], MH_TYPE_EXPERIMENTAL);
    if (typeof msg === 'number') throw new Error(`lab: unparsable message from ${p.from}`);
    const arrival = { src: r.seenSrc, dst: r.seenDst, identitySrc: IDENTITY[p.from] };
    const node = p.to === 'mn' ? this.mn : p.to === 'ha' ? this.ha : this.cn;
    this.apply(p.to, msg.kind, node.receiveMh(peerName(p.to, p.from), msg, arrival, this.now));
  }
}
