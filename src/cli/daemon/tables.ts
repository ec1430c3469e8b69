/**
 * From a validated config to the dataplane's tables: the SAs of every peer (installed in the SAD,
 * their keys in the workers' key table, their send counters resumed from the state file), the
 * DataplanePeers, and the outbound SPD.
 *
 * Per peer (PROTOCOL.md D.2, A.5):
 * - the payload SA pair in the configured mode. Tunnel mode (mobile node <-> home agent): the
 *   outer addresses are locators only; the inner packets are checked against the selectors
 *   local = own home addresses (a mobile node) or any (a gateway), remote = the peer's AllowedIPs.
 *   Transport mode (mobile node <-> correspondent): identities HoA <-> correspondent address,
 *   IRO-enabled when route optimization is on;
 * - for tunnel-mode peers, the transport-mode signalling pair (Mobility Header only, identities
 *   own identity <-> peer identity, always IRO: it travels from whatever CoA is current).
 * Outbound SPD (RFC 4301 §4.4.1, first match): signalling first, then each peer's AllowedIPs as
 * one entry per prefix, longest prefix first (the wg-quick rule users expect), so a
 * correspondent's /128 wins over the home agent's ::/0.
 */
import { createReplayWindow } from '../../esp/replay.js';
import { SequenceCounter } from '../../esp/sequence.js';
import { defaultBackend, getBackend } from '../../esp/backends.js';
import { LazyAeadContext } from '../../esp/lazy.js';
import type { BackendName, SuiteName } from '../../esp/types.js';
import type { IroConfig, PeerConfig, SaSpec } from '../../config/types.js';
import type { DataplanePeer, PolicyTarget, SendReservation } from '../../dataplane/types.js';
import { IPPROTO_ESP, IPPROTO_MH, IPPROTO_UDP } from '../../packet/constants.js';
import type { KeyTable } from '../../pool/keytable.js';
import { Sad } from '../../sad/sad.js';
import type { SecurityAssociation, SaDirection, SaMode } from '../../sad/sa.js';
import { Spd } from '../../spd/spd.js';
import { TrafficSelector } from '../../spd/selector.js';
import { SequenceReservation, sequenceKey, type StateStore } from '../../state/index.js';
import type { Prefix } from '../../util/addr.js';

const ANY4: Prefix = { addr: new Uint8Array(4), len: 0 };
const ANY6: Prefix = { addr: new Uint8Array(16), len: 0 };

function host(a: Uint8Array): Prefix {
  return { addr: a, len: a.length * 8 };
}

export interface Tables {
  readonly sad: Sad;
  readonly spd: Spd<PolicyTarget>;
  readonly peers: DataplanePeer[];
  /** Config of each peer, by name. */
  readonly configOf: Map<string, PeerConfig>;
  /** Restart-safe reservations of the outbound SAs, by slot. */
  readonly reservations: Map<number, SendReservation>;
  /** This node's identity addresses (on the TUN). */
  readonly identities: Uint8Array[];
}

export interface TableOptions {
  readonly keys: KeyTable;
  readonly state: StateStore;
  /** AEAD backend for the main thread's contexts; 'auto' picks each suite's fastest. */
  readonly backend: BackendName | 'auto';
}

/** The identity addresses of this node: home addresses (mobile node) or Address (others). */
export function ownIdentities(config: IroConfig): Uint8Array[] {
  const i = config.interface;
  return (i.role === 'mobile-node' ? i.homeAddresses : i.addresses).map((p) => p.addr);
}

/** Our identity of the same family as `peerIdentity`, else our first one. */
function matchingIdentity(own: readonly Uint8Array[], peerIdentity: Uint8Array): Uint8Array {
  return own.find((a) => a.length === peerIdentity.length) ?? own[0]!;
}

class Builder {
  readonly sad = new Sad();
  readonly reservations = new Map<number, SendReservation>();
  private readonly options: TableOptions;

  constructor(options: TableOptions) {
    this.options = options;
  }

  /** Installs one SA direction, registers its key for the workers and its reservation. */
  install(
    peer: PeerConfig,
    spec: SaSpec,
    direction: SaDirection,
    mode: SaMode,
    identities: { local: Uint8Array; peer: Uint8Array },
    selectors: TrafficSelector,
    iro: boolean,
  ): SecurityAssociation {
    const suite = peer.cipher as SuiteName;
    const backend = this.options.backend === 'auto' ? defaultBackend(suite) : getBackend(this.options.backend);
    // The data path's contexts come from the key table (pool/); this one is only scheduled if
    // something on the main thread ever seals or opens with the SA.
    const keys = this.options.keys;
    const slot = { of: -1 };
    const aead = new LazyAeadContext(backend, suite, peer.esn, () => {
      const e = slot.of < 0 ? null : keys.read(slot.of);
      return e === null ? null : { key: e.key, salt: e.salt };
    });
    let reservation: SequenceReservation | undefined;
    const sa = this.sad.install({
      spi: spec.spi,
      direction,
      mode,
      suite,
      esn: peer.esn,
      encapsulation: peer.encapsulation,
      ...(peer.encapsulation === 'udp' ? { peerPort: peer.endpoint?.port ?? 4500 } : {}),
      identities,
      selectors,
      iro,
      peer: peer.name,
      ...(peer.lifetime ? { lifetime: { soft: { seconds: peer.lifetime.softSeconds }, hard: { seconds: peer.lifetime.hardSeconds } } } : {}),
      aead,
      ...(direction === 'in'
        ? { replay: createReplayWindow({ size: peer.replayWindow, esn: peer.esn }) }
        : {
            seq: (() => {
              reservation = new SequenceReservation(this.options.state, sequenceKey(spec.spi, spec.keymat.bytes));
              return new SequenceCounter(peer.esn, reservation.resumeAfter);
            })(),
          }),
    });
    if (reservation !== undefined) this.reservations.set(sa.slot, reservation);
    keys.set(sa.slot, suite, spec.keymat.key, spec.keymat.salt, peer.esn);
    slot.of = sa.slot;
    return sa;
  }
}

/** Inner selectors of a tunnel SA, seen from this node: local = `local`, remote = AllowedIPs. */
function tunnelSelectors(local: readonly Prefix[], peer: PeerConfig): TrafficSelector {
  return new TrafficSelector({ local, remote: peer.allowedIPs });
}

export function buildTables(config: IroConfig, options: TableOptions): Tables {
  // One durable write for every SA's sequence reservation, before any packet can be sent.
  return options.state.batch(() => buildAll(config, options));
}

function buildAll(config: IroConfig, options: TableOptions): Tables {
  const b = new Builder(options);
  const own = ownIdentities(config);
  const role = config.interface.role;
  const peers: DataplanePeer[] = [];
  const configOf = new Map<string, PeerConfig>();
  // A gateway forwards for the networks behind it; a mobile node accepts only its home addresses.
  const tunnelLocal: Prefix[] = role === 'mobile-node' ? config.interface.homeAddresses.map((p) => host(p.addr)) : [ANY4, ANY6];
  for (const pc of config.peers) {
    configOf.set(pc.name, pc);
    const peerId = pc.identities[0]!;
    const ids = { local: matchingIdentity(own, peerId), peer: peerId };
    let payloadOut: SecurityAssociation;
    let payloadIn: SecurityAssociation;
    if (pc.mode === 'tunnel') {
      const sel = tunnelSelectors(tunnelLocal, pc);
      payloadOut = b.install(pc, pc.sa.out, 'out', 'tunnel', ids, sel, false);
      payloadIn = b.install(pc, pc.sa.in, 'in', 'tunnel', ids, sel, false);
    } else {
      const sel = new TrafficSelector({ local: [host(ids.local)], remote: [host(ids.peer)] });
      payloadOut = b.install(pc, pc.sa.out, 'out', 'transport', ids, sel, pc.routeOptimization);
      payloadIn = b.install(pc, pc.sa.in, 'in', 'transport', ids, sel, pc.routeOptimization);
    }
    let signalOut = payloadOut;
    let signalIn = payloadIn;
    if (pc.signalSa !== null) {
      // The Mobility Header is IPv6 only (RFC 6275 §6.1): the signalling SA is bound to the IPv6
      // identities whatever order the config lists the addresses in.
      const peer6 = pc.identities.find((a) => a.length === 16) ?? peerId;
      const sig = { local: matchingIdentity(own, peer6), peer: peer6 };
      const sel = new TrafficSelector({ local: [host(sig.local)], remote: [host(sig.peer)], proto: IPPROTO_MH });
      signalOut = b.install(pc, pc.signalSa.out, 'out', 'transport', sig, sel, true);
      signalIn = b.install(pc, pc.signalSa.in, 'in', 'transport', sig, sel, true);
    }
    peers.push({
      name: pc.name,
      role: pc.role,
      cipher: pc.cipher,
      payloadOut,
      payloadIn,
      signalOut,
      signalIn,
      // A mobile node's traffic to a correspondent goes through the home tunnel until the
      // correspondent verified our CoA, and always without route optimization.
      viaHome: role === 'mobile-node' && pc.role !== 'home-agent',
    });
  }
  return { sad: b.sad, spd: buildSpd(config, peers), peers, configOf, reservations: b.reservations, identities: own };
}

/** The outbound SPD; see the module header for the order. */
function buildSpd(config: IroConfig, peers: readonly DataplanePeer[]): Spd<PolicyTarget> {
  const spd = new Spd<PolicyTarget>();
  const byName = new Map(config.peers.map((p) => [p.name, p]));
  for (const peer of peers) {
    if (peer.signalOut === peer.payloadOut) continue;
    const ids = peer.signalOut.identities;
    spd.add({
      name: `signal:${peer.name}`,
      action: 'protect',
      direction: 'out',
      local: [host(ids.local)],
      remote: [host(ids.peer)],
      proto: IPPROTO_MH,
      ref: { peer, sa: 'signal' },
    });
  }
  // Safe by default (PROTOCOL.md A.7, F.17): ESP that a mobile node sends to a correspondent
  // from its HoA is itself protected by the home tunnel, never re-protected by the direct SA.
  const home = peers.find((p) => p.role === 'home-agent');
  if (home !== undefined) {
    for (const peer of peers) {
      if (!peer.viaHome) continue;
      const cn = host(peer.payloadOut.identities.peer);
      const port = byName.get(peer.name)?.endpoint?.port ?? 4500;
      spd.add({ name: `home-udp:${peer.name}`, action: 'protect', direction: 'out', remote: [cn], proto: IPPROTO_UDP, remotePort: port, ref: { peer: home, sa: 'payload' } });
      spd.add({ name: `home-esp:${peer.name}`, action: 'protect', direction: 'out', remote: [cn], proto: IPPROTO_ESP, ref: { peer: home, sa: 'payload' } });
    }
  }
  const entries: { peer: DataplanePeer; prefix: Prefix; order: number }[] = [];
  let order = 0;
  for (const peer of peers) {
    for (const prefix of byName.get(peer.name)!.allowedIPs) entries.push({ peer, prefix, order: order++ });
  }
  entries.sort((x, y) => y.prefix.len - x.prefix.len || x.order - y.order);
  for (const e of entries) {
    spd.add({
      name: `allowed:${e.peer.name}:${e.order}`,
      action: 'protect',
      direction: 'out',
      remote: [e.prefix],
      ref: { peer: e.peer, sa: 'payload' },
    });
  }
  spd.compile();
  return spd;
}
