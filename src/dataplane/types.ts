/**
 * What the dataplane is built from: the peers with their SAs, the ports, the crypto runner, and
 * the small interfaces it calls out through (signalling, send-counter reservations). Only types
 * are imported from io/, pool/, metrics/ and state/ (DESIGN.md module map).
 */
import type { Link, Transport } from '../io/ports.js';
import type { BatchLayout } from '../packet/batch.js';
import type { CryptoRunner } from '../pool/index.js';
import type { Encapsulation, SecurityAssociation } from '../sad/sa.js';
import type { Sad } from '../sad/sad.js';
import type { Spd } from '../spd/spd.js';
import type { Logger } from '../util/log.js';

export type PeerRole = 'mobile-node' | 'home-agent' | 'correspondent';

/** One configured peer. The SA fields change on rekeying (make-before-break); the object stays. */
export interface DataplanePeer {
  /** The configured name: the `peer` label in metrics. */
  readonly name: string;
  /** The peer's role. */
  readonly role: PeerRole;
  readonly cipher: string;
  /** The SA pair carrying data: tunnel mode between a mobile node and its home agent,
   * transport mode between a mobile node and a correspondent. */
  payloadOut: SecurityAssociation;
  payloadIn: SecurityAssociation;
  /** The transport-mode pair carrying the Mobility Header; the payload pair itself when that is
   * transport mode. */
  signalOut: SecurityAssociation;
  signalIn: SecurityAssociation;
  /**
   * Mobile node side of a correspondent with route optimization: true until the correspondent
   * verified our care-of address. Payload for it is then sent through the home tunnel, never
   * directly from the CoA (PROTOCOL.md A.7, F.17, "safe by default").
   */
  viaHome: boolean;
}

/** What an outbound SPD entry points at. */
export interface PolicyTarget {
  readonly peer: DataplanePeer;
  readonly sa: 'payload' | 'signal';
}

/** The sockets the dataplane sends and receives ESP on. */
export interface TransportTable {
  /** The transport for sending with `encap` to an address of `family`, or null when there is none. */
  pick(encap: Encapsulation, family: 4 | 6): Transport | null;
  /** Every transport to receive from. */
  readonly all: readonly Transport[];
}

/** A durable reservation of send sequence numbers (state/SequenceReservation fits). */
export interface SendReservation {
  /** Highest sequence number covered by the durable reservation. */
  readonly limit: bigint;
  /** Extends the reservation (a durable write) to cover `upTo`. */
  ensure(upTo: bigint): void;
}

/** An on-wire address with its UDP port (0 for raw ESP); iro/'s Locator fits. */
export interface WireAddress {
  readonly family: 4 | 6;
  readonly addr: Uint8Array;
  readonly port: number;
}

/** Where a received Mobility Header came from: outer addresses (unauthenticated, PROTOCOL.md
 * F.10) and the restored identities. */
export interface MhArrivalInfo {
  readonly src: WireAddress;
  readonly dst: WireAddress;
  readonly identitySrc: Uint8Array;
  readonly identityDst: Uint8Array;
}

/** Receives the Mobility Header messages that arrived inside an SA (after ICV, replay,
 * identity restoration and the selector check). `mh` is a copy the receiver owns. */
export type MhSink = (peer: DataplanePeer, mh: Uint8Array, arrival: MhArrivalInfo) => void;

/** Called when authenticated traffic of a peer moves to a new pair of outer addresses. */
export type HandoverSink = (peer: DataplanePeer, gapSeconds: number) => void;

export interface DataplaneOptions {
  readonly link: Link;
  readonly transports: TransportTable;
  readonly crypto: CryptoRunner;
  readonly sad: Sad;
  readonly spd: Spd<PolicyTarget>;
  readonly peers: readonly DataplanePeer[];
  /** This node's identity addresses (on the TUN): nested ESP addressed to them is unwrapped. */
  readonly identities: readonly Uint8Array[];
  /** The UDP port ESP-in-UDP arrives on (RFC 3948). */
  readonly listenPort: number;
  readonly layout: BatchLayout;
  /** Batches in flight per direction before reading pauses (backpressure, nothing is dropped). */
  readonly maxInflight: number;
  /** The send-counter reservation of an outbound SA (restart safety); undefined = none. */
  readonly reservation: (sa: SecurityAssociation) => SendReservation | undefined;
  readonly onMh: MhSink;
  readonly onHandover?: HandoverSink;
  readonly log: Logger;
  /** Clock in ms since the epoch (tests inject one). */
  readonly now?: () => number;
}
