/**
 * The validated configuration of one iro interface: what `parseConfig`/`loadConfig` return and
 * what the rest of iro consumes. Everything here has been checked already (ranges, roles, SPI
 * uniqueness, key lengths); consumers do not re-validate.
 *
 * Key material is held in `Keymat` objects, never in plain arrays, so that JSON.stringify,
 * util.inspect and string conversion print "[redacted]" instead of bytes.
 *
 * RFCs: 4303 §2.1 (SPI ranges), 4106 §8.1 / 7634 §2 (KEYMAT = key || 4-byte salt),
 * 6275 (roles, binding lifetimes), 3948 (UDP encapsulation, port 4500).
 */
import { inspect } from 'node:util';
import type { Prefix } from '../util/addr.js';
import type { ConfigIssue } from '../util/errors.js';
import type { LogLevel } from '../util/log.js';

export type Role = 'mobile-node' | 'home-agent' | 'correspondent';
export const ROLES: readonly Role[] = ['mobile-node', 'home-agent', 'correspondent'];

/**
 * strongSwan's keywords for the ESP AEAD transforms. The same names as esp/types.ts `SuiteName`
 * (config/ may not import esp/; test/config checks that the two lists agree).
 */
export type CipherName = 'aes128gcm16' | 'aes192gcm16' | 'aes256gcm16' | 'chacha20poly1305';

/** Cipher key bytes, without the salt (RFC 4106 §8.1, RFC 7634 §2). */
export const CIPHER_KEY_LENGTH: Readonly<Record<CipherName, number>> = {
  aes128gcm16: 16,
  aes192gcm16: 24,
  aes256gcm16: 32,
  chacha20poly1305: 32,
};
export const CIPHER_NAMES = Object.keys(CIPHER_KEY_LENGTH) as readonly CipherName[];

/** Every supported cipher takes 4 bytes of salt after the key. */
export const SALT_LENGTH = 4;

/** KEYMAT length for a cipher: key || salt (20, 28 or 36 bytes). */
export function keymatLength(cipher: CipherName): number {
  return CIPHER_KEY_LENGTH[cipher] + SALT_LENGTH;
}

export type Encapsulation = 'udp' | 'esp';
export type SaMode = 'tunnel' | 'transport';
export type NatPolicy = 'allow' | 'deny';
export type BackendChoice = 'native' | 'native-free';

/** A peer's locator as configured: an address literal, or a host name resolved at start-up. */
export interface Endpoint {
  /** As written, without brackets or port. */
  readonly host: string;
  /** The address when `host` is an IP literal; null for a host name. */
  readonly address: Uint8Array | null;
  readonly port: number;
}

/** A local address and TCP/UDP port to listen on. */
export interface ListenAddress {
  readonly address: Uint8Array;
  readonly port: number;
}

const REDACTED = '[redacted]';

/**
 * ESP KEYMAT (cipher key || 4-byte salt) from the config. The bytes are reachable only through
 * `bytes`, `key` and `salt`; every accidental route to text (JSON, inspect, String) prints
 * "[redacted]". The object owns its buffer: `wipe()` zeroes it (STYLE "zero key material").
 */
export class Keymat {
  readonly #bytes: Uint8Array;
  readonly cipher: CipherName;

  /** Takes ownership of `bytes`, whose length must be keymatLength(cipher). */
  constructor(cipher: CipherName, bytes: Uint8Array) {
    if (bytes.length !== keymatLength(cipher)) {
      throw new RangeError(`keymat for ${cipher} must be ${keymatLength(cipher)} bytes long, got ${bytes.length}`);
    }
    this.cipher = cipher;
    this.#bytes = bytes;
  }

  /** key || salt; a view of the owned buffer, valid until `wipe()`. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** The cipher key (a subarray view). */
  get key(): Uint8Array {
    return this.#bytes.subarray(0, CIPHER_KEY_LENGTH[this.cipher]);
  }

  /** The 4-byte salt (a subarray view). */
  get salt(): Uint8Array {
    return this.#bytes.subarray(CIPHER_KEY_LENGTH[this.cipher]);
  }

  /** Constant-shape comparison of two keymats (config validation, not a hot path). */
  equals(other: Keymat): boolean {
    const a = this.#bytes;
    const b = other.#bytes;
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
    return diff === 0;
  }

  wipe(): void {
    this.#bytes.fill(0);
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Keymat(${this.cipher}) ${REDACTED}`;
  }
}

/** One direction of an SA as keyed manually. */
export interface SaSpec {
  /** 256..0xffffffff (RFC 4303 §2.1). */
  readonly spi: number;
  readonly keymat: Keymat;
}

/** An SA pair with one peer. `out` is what we send with (its SPI is the peer's inbound SPI). */
export interface SaPair {
  readonly out: SaSpec;
  readonly in: SaSpec;
}

/** SA lifetime by time; the soft limit (rekey warning) is 90 % of the hard one. */
export interface SaLifetime {
  readonly hardSeconds: number;
  readonly softSeconds: number;
}

export interface InterfaceConfig {
  readonly role: Role;
  /** Mobile node: its home address(es) with on-link prefix length; empty for other roles. */
  readonly homeAddresses: readonly Prefix[];
  /** Home agent / correspondent: identity address(es) put on the TUN; empty for a mobile node. */
  readonly addresses: readonly Prefix[];
  /** Home agent: the home network prefix(es) it serves (host bits clear); empty otherwise. */
  readonly homePrefixes: readonly Prefix[];
  /** TUN MTU, or 'auto' (path MTU minus ESP overhead, never below 1280 with IPv6 identities). */
  readonly mtu: number | 'auto';
  /** Mobile node: 'auto' (follow the default route) or interface names in preference order. */
  readonly careOf: 'auto' | readonly string[];
  /** Local UDP port for ESP-in-UDP (RFC 3948). */
  readonly listenPort: number;
  /** Where /metrics and /healthz listen; null when `Metrics = off`. */
  readonly metrics: ListenAddress | null;
  /** Absolute directory for persisted sequence counters and bindings. */
  readonly stateDir: string;
  readonly backend: BackendChoice;
  /** Worker threads for AEAD; 0 = seal/open on the main thread; 'auto' = from the CPU count. */
  readonly workers: number | 'auto';
  /** Packets moved per read/seal/send batch. */
  readonly batchSize: number;
  readonly logLevel: LogLevel;
  /** Resolver addresses to apply while the interface is up. */
  readonly dns: readonly Uint8Array[];
  /** Mobility Header type number of iro's CoA-test messages (PROTOCOL A.10; RFC 5096 experimental = 11). */
  readonly coTestType: number;
  /** Line of the [Interface] header. */
  readonly line: number;
}

export interface PeerConfig {
  /** Unique label, [A-Za-z0-9_.-]{1,32}: the `peer` label of every metric. */
  readonly name: string;
  readonly role: Role;
  /** The peer's stable addresses (a mobile node's home addresses). */
  readonly identities: readonly Uint8Array[];
  /** The peer's locator; null for a mobile-node peer without a configured one (it roams). */
  readonly endpoint: Endpoint | null;
  readonly encapsulation: Encapsulation;
  readonly mode: SaMode;
  /** Outbound policy: destinations sent to this peer (host bits clear). */
  readonly allowedIPs: readonly Prefix[];
  readonly cipher: CipherName;
  /** The data SA pair. */
  readonly sa: SaPair;
  /**
   * The transport-mode SA pair carrying Mobility Header signalling when the data SAs are in
   * tunnel mode (RFC 3776 §4.2; PROTOCOL D.2); null for a transport-mode peer, whose data SA
   * carries the signalling itself.
   */
  readonly signalSa: SaPair | null;
  readonly esn: boolean;
  /** Anti-replay window in packets (multiple of 32). */
  readonly replayWindow: number;
  /** Accept a BU whose AltCoA differs from the outer source because a NAT rewrote it. */
  readonly nat: NatPolicy;
  readonly routeOptimization: boolean;
  /** NAT keepalive interval in seconds; null = off. */
  readonly persistentKeepalive: number | null;
  readonly lifetime: SaLifetime | null;
  /**
   * Binding lifetime in seconds: requested (mobile node) or the maximum granted (home agent,
   * correspondent). Carried on the wire in units of 4 s (RFC 6275 §6.1.7).
   */
  readonly bindingLifetime: number;
  /** Line of this [Peer] header. */
  readonly line: number;
}

export interface IroConfig {
  /** The file name as given to the parser (used in messages). */
  readonly file: string;
  /** The interface name: the file's base name without `.conf` (wg-quick's rule). */
  readonly interfaceName: string;
  readonly interface: InterfaceConfig;
  /** Every [Peer] section, in file order. */
  readonly peers: readonly PeerConfig[];
  /** True when some key is written inline in the file (the file itself is then secret). */
  readonly hasInlineKeys: boolean;
  /** Problems that do not stop the config from loading (e.g. a config with keys readable by others). */
  readonly warnings: readonly ConfigIssue[];
}

/** Defaults of optional keys (documented in the README key table). */
export const DEFAULTS = {
  listenPort: 4500,
  endpointPort: 4500,
  metricsHost: '127.0.0.1',
  metricsPort: 9469,
  stateDir: '/var/lib/iro',
  backend: 'native' as BackendChoice,
  batchSize: 128,
  logLevel: 'info' as LogLevel,
  /** RFC 5096 experimental Mobility Header type. */
  coTestType: 11,
  encapsulation: 'udp' as Encapsulation,
  cipher: 'aes128gcm16' as CipherName,
  esn: true,
  replayWindow: 1024,
  nat: 'deny' as NatPolicy,
  routeOptimization: false,
  /** Home registrations. */
  homeBindingLifetime: 3600,
  /** RFC 6275 §5.2.6 MAX_RR_BINDING_LIFETIME: correspondent bindings never exceed 420 s. */
  correspondentBindingLifetime: 420,
} as const;
