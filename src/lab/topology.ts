/**
 * The standard tunnel topology: a mobile node (client) and its home agent (gateway) joined by a
 * veth "wire", a server on the home network behind the gateway, and optionally an attacker
 * namespace that reaches the gateway's locator from a third network, and a NAT router on the
 * wire. Documentation addresses only (RFC 5737, RFC 3849); interface names are fixed because
 * every interface lives in a namespace of its own lab.
 *
 *   client ─wire0══wire0─ gateway ─home0══home0─ server
 *     (HoA on its TUN)    │  (HA address on its TUN)
 *                         └─atk0══atk0─ attacker                (attacker: true)
 *
 *   client ─wire0══in0─ router ─out0══wire0─ gateway            (nat: true, IPv4 masquerade)
 *
 * The client has no route to the home network and the server none to the home addresses except
 * through the gateway, so the only way between them is the tunnel the two iro daemons make
 * (their AllowedIPs routes). The gateway forwards.
 */
import type { Lab, Netns } from './lab.js';

/** Every address of the topology (one place, so configs and tests agree). */
export const ADDRESSES = {
  /** The wire between client and gateway (the locators), or between router and gateway with NAT. */
  wire: {
    client4: '203.0.113.1',
    gateway4: '203.0.113.2',
    len4: 25,
    client6: '2001:db8:1::1',
    gateway6: '2001:db8:1::2',
    len6: 64,
  },
  /** With NAT: the client's network behind the router. */
  inside: {
    client4: '203.0.113.130',
    router4: '203.0.113.129',
    len4: 25,
    client6: '2001:db8:4::2',
    router6: '2001:db8:4::1',
    len6: 64,
  },
  /** The home network behind the gateway, where the server is. */
  home: {
    gateway4: '192.0.2.1',
    server4: '192.0.2.2',
    prefix4: '192.0.2.0/25',
    len4: 25,
    gateway6: '2001:db8:2::1',
    server6: '2001:db8:2::2',
    prefix6: '2001:db8:2::/64',
    len6: 64,
  },
  /** The attacker's network, attached to the gateway. */
  attack: {
    gateway4: '192.0.2.129',
    attacker4: '192.0.2.130',
    len4: 25,
    gateway6: '2001:db8:3::1',
    attacker6: '2001:db8:3::2',
    len6: 64,
  },
  /** Identities on the TUNs: the mobile node's home addresses and the home agent's address. */
  identity: {
    hoa4: '198.51.100.10',
    hoa6: '2001:db8:100::10',
    ha4: '198.51.100.1',
    ha6: '2001:db8:100::1',
    homePrefix4: '198.51.100.0/24',
    homePrefix6: '2001:db8:100::/64',
  },
} as const;

export interface TopologyOptions {
  /** Add the attacker namespace. */
  readonly attacker?: boolean;
  /** Put an IPv4 NAT router between client and gateway (IPv6 is routed through it unchanged). */
  readonly nat?: boolean;
}

export interface Topology {
  readonly client: Netns;
  readonly gateway: Netns;
  readonly server: Netns;
  readonly attacker: Netns | null;
  readonly router: Netns | null;
  /** The client's wire interface (its care-of interface). */
  readonly clientWire: string;
  /** The gateway's wire interface (capture here). */
  readonly gatewayWire: string;
  /** The client's locators as the gateway sees them (the router's outside address with NAT). */
  readonly clientLocator4: string;
  readonly clientLocator6: string;
  readonly gatewayLocator4: string;
  readonly gatewayLocator6: string;
}

function addBoth(ns: Netns, dev: string, a4: string, len4: number, a6: string, len6: number): void {
  ns.addAddress(dev, `${a4}/${len4}`);
  ns.addAddress(dev, `${a6}/${len6}`);
}

/** Builds the topology in `lab` (namespaces client, gateway, server[, attacker][, router]). */
export function buildTunnelTopology(lab: Lab, options: TopologyOptions = {}): Topology {
  const { wire, inside, home, attack } = ADDRESSES;
  const client = lab.netns('client');
  const gateway = lab.netns('gateway', { forwarding: true });
  const server = lab.netns('server');
  let router: Netns | null = null;

  const gw = lab.link(gateway, server, { nameA: 'home0', nameB: 'home0', wireSize: true });
  addBoth(gw.a.ns, 'home0', home.gateway4, home.len4, home.gateway6, home.len6);
  addBoth(gw.b.ns, 'home0', home.server4, home.len4, home.server6, home.len6);
  server.addRoute('default', { via: home.gateway4 }, 4);
  server.addRoute('default', { via: home.gateway6 }, 6);

  if (options.nat) {
    router = lab.netns('router', { forwarding: true });
    lab.link(client, router, { nameA: 'wire0', nameB: 'in0', wireSize: true });
    lab.link(router, gateway, { nameA: 'out0', nameB: 'wire0', wireSize: true });
    addBoth(client, 'wire0', inside.client4, inside.len4, inside.client6, inside.len6);
    addBoth(router, 'in0', inside.router4, inside.len4, inside.router6, inside.len6);
    addBoth(router, 'out0', wire.client4, wire.len4, wire.client6, wire.len6);
    addBoth(gateway, 'wire0', wire.gateway4, wire.len4, wire.gateway6, wire.len6);
    client.addRoute(`${wire.gateway4}/32`, { via: inside.router4 }, 4);
    client.addRoute(`${wire.gateway6}/128`, { via: inside.router6 }, 6);
    gateway.addRoute(`${inside.client6}/128`, { via: wire.client6 }, 6);
    lab.nat(router, 'out0');
  } else {
    lab.link(client, gateway, { nameA: 'wire0', nameB: 'wire0', wireSize: true });
    addBoth(client, 'wire0', wire.client4, wire.len4, wire.client6, wire.len6);
    addBoth(gateway, 'wire0', wire.gateway4, wire.len4, wire.gateway6, wire.len6);
  }

  let attacker: Netns | null = null;
  if (options.attacker) {
    attacker = lab.netns('attacker');
    lab.link(gateway, attacker, { nameA: 'atk0', nameB: 'atk0', wireSize: true });
    addBoth(gateway, 'atk0', attack.gateway4, attack.len4, attack.gateway6, attack.len6);
    addBoth(attacker, 'atk0', attack.attacker4, attack.len4, attack.attacker6, attack.len6);
    attacker.addRoute(`${wire.gateway4}/32`, { via: attack.gateway4 }, 4);
    attacker.addRoute(`${wire.gateway6}/128`, { via: attack.gateway6 }, 6);
  }

  return {
    client,
    gateway,
    server,
    attacker,
    router,
    clientWire: 'wire0',
    gatewayWire: 'wire0',
    clientLocator4: wire.client4,
    clientLocator6: options.nat ? inside.client6 : wire.client6,
    gatewayLocator4: wire.gateway4,
    gatewayLocator6: wire.gateway6,
  };
}
