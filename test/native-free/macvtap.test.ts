/**
 * The native-free Link end to end, as root: each test makes its own namespace, runs the link in
 * an agent there (link-agent.ts) and drives real traffic through the tunnel interface with
 * `ping` and Node sockets started with `ip netns exec`. Echo replies written by the agent make
 * `ping` succeed, which proves both directions. Bounded in time (every call has a timeout) and
 * in count (every wait is a fixed number of attempts); namespaces are deleted in `finally`.
 * Addresses: documentation ranges only.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MACVTAP_FIX_PRIVILEGE, openMacvtapLink } from '../../native-free/index.js';
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  TCP_OFF_CHECKSUM,
  UDP_OFF_CHECKSUM,
  UDP_OFF_LEN,
} from '../../src/packet/constants.js';
import { fromHex, readU16 } from '../../src/util/bytes.js';
import { internetChecksum, sumWords } from '../../src/util/checksum.js';
import { canUseNetns, createNetns, startAgent, type Agent, type Netns } from '../helpers/netns-lite.js';

const AGENT = join(dirname(new URL(import.meta.url).pathname), 'link-agent.js');
const AGENT_ENV = { IRO_NF_AGENT: '1' };
const privileged = canUseNetns();
const skip = privileged ? false : 'needs root and iproute2';

const LINK = 'iro0';
const MTU = 1500;
const ADDRESSES = ['192.0.2.1/32', '2001:db8::1/128'];
const ROUTES = ['198.51.100.0/24', '2001:db8:5::/48'];
const PEER4 = '198.51.100.7';
const PEER6 = '2001:db8:5::7';
const WAIT_ATTEMPTS = 50;
const WAIT_INTERVAL_MS = 100;
const UDP_PAYLOAD = 1400;

interface Opened {
  failed?: boolean;
  code?: string;
  fix?: string;
  name?: string;
  tapName?: string;
  peerName?: string;
  devicePath?: string;
  privateNode?: boolean;
}

interface Counters {
  framesIn: number;
  checksumsFinished: number;
  packetsIn: number;
  nonIp: number;
  neighbour: number;
  gso: number;
  malformed: number;
  packetsOut: number;
  echoed: number;
}

/** A namespace with an agent that has opened the link; both are removed when `body` ends. */
async function withLink(
  tag: string,
  body: (ns: Netns, agent: Agent, opened: Opened) => Promise<void>,
  addresses: readonly string[] = ADDRESSES,
  routes: readonly string[] = ROUTES,
): Promise<void> {
  const ns = createNetns(tag);
  const agent = startAgent(ns.name, AGENT, AGENT_ENV);
  try {
    const opened = await agent.call<Opened>({ op: 'open', name: LINK, mtu: MTU, addresses, routes });
    assert.equal(opened.failed, undefined, `open failed: ${JSON.stringify(opened)}`);
    await body(ns, agent, opened);
  } finally {
    agent.kill();
    ns.destroy();
  }
}

/** Asks the agent for recorded packets until `match` finds one; bounded in attempts. */
async function waitForPacket(agent: Agent, match: (p: Uint8Array) => boolean): Promise<Uint8Array> {
  for (let i = 0; i < WAIT_ATTEMPTS; i++) {
    const { packets } = await agent.call<{ packets: string[] }>({ op: 'packets' });
    const hit = packets.map(fromHex).find(match);
    if (hit) return hit;
    await sleep(WAIT_INTERVAL_MS);
  }
  throw new Error(`no matching packet after ${WAIT_ATTEMPTS} attempts`);
}

/** Runs a short Node program inside the namespace (as a separate process); resolves with its exit code. */
function nodeIn(ns: Netns, code: string): { done: Promise<number | null>; kill: () => void } {
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '--input-type=module', '-e', code], {
    stdio: 'ignore',
  });
  return { done: new Promise((resolve) => child.on('exit', resolve)), kill: () => child.kill('SIGKILL') };
}

/** Transport checksum of IPv4/IPv6 packet `p` verified over the pseudo-header: true when valid. */
function l4ChecksumValid(p: Uint8Array): boolean {
  const v4 = p[0]! >> 4 === 4;
  const l4 = v4 ? (p[0]! & 0x0f) * 4 : 40;
  const pseudo = v4
    ? sumWords(p, 12, 8) + p[9]! + (p.length - l4)
    : sumWords(p, 8, 32) + p[6]! + (p.length - l4);
  return internetChecksum(p, l4, p.length - l4, pseudo) === 0;
}

function protoOf(p: Uint8Array): number {
  return p[0]! >> 4 === 4 ? p[9]! : p[6]!;
}

function l4Offset(p: Uint8Array): number {
  return p[0]! >> 4 === 4 ? (p[0]! & 0x0f) * 4 : 40;
}

function pingOk(ns: Netns, addr: string): string {
  return ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', addr], 15_000);
}

test('options are checked before anything is created', async () => {
  await assert.rejects(openMacvtapLink({ name: 'has space', mtu: MTU, addresses: [] }), RangeError);
  await assert.rejects(openMacvtapLink({ name: 'x'.repeat(16), mtu: MTU, addresses: [] }), RangeError);
  await assert.rejects(openMacvtapLink({ name: 7 as unknown as string, mtu: MTU, addresses: [] }), TypeError);
  await assert.rejects(openMacvtapLink({ name: 'iro0', mtu: 1.5, addresses: [] }), TypeError);
  await assert.rejects(openMacvtapLink({ name: 'iro0', mtu: 1279, addresses: ['2001:db8::1'] }), /options.mtu must be between 1280/);
  await assert.rejects(openMacvtapLink({ name: 'iro0', mtu: MTU, addresses: ['192.0.2.300/32'] }), /options.addresses\[0\]/);
  await assert.rejects(openMacvtapLink({ name: 'iro0', mtu: MTU, addresses: [], queueCapacity: 0 }), RangeError);
  await assert.rejects(openMacvtapLink({ name: 'iro0', mtu: MTU, addresses: [], queueCapacity: 100 }), /power of two/);
});

test('IPv4 and IPv6: pings routed via the link arrive as echo requests and the echoed replies reach ping', { skip }, async () => {
  await withLink('ping', async (ns, agent, opened) => {
    assert.equal(opened.name, LINK);
    assert.deepEqual(ns.links().sort(), ['iro0', 'iro0-t', 'iro0-v', 'lo']);
    await agent.call({ op: 'mode', mode: 'echo' });

    assert.match(pingOk(ns, PEER4), /3 packets transmitted, 3 received/);
    let c = await agent.call<Counters>({ op: 'counters' });
    assert.equal(c.echoed, 3);
    assert.equal(c.packetsOut, 3);

    assert.match(pingOk(ns, PEER6), /3 packets transmitted, 3 received/);
    c = await agent.call<Counters>({ op: 'counters' });
    assert.equal(c.echoed, 6);
    assert.equal(c.packetsIn, 6, 'nothing but the echo requests came through the tunnel');
    assert.equal(c.framesIn, 6);
    assert.equal(c.neighbour, 0, 'no ARP or Neighbor Discovery was needed');
    assert.equal(c.nonIp, 0);
  });
});

test('an address with a prefix routes the prefix into the tunnel (no connected on-link route)', { skip }, async () => {
  await withLink(
    'pfx',
    async (ns, agent) => {
      const routes = ns.exec('ip', ['route', 'show', 'dev', LINK]) + ns.exec('ip', ['-6', 'route', 'show', 'dev', LINK]);
      assert.match(routes, /^203\.0\.113\.0\/24 via 169\.254\.0\.1 /m);
      assert.match(routes, /^2001:db8:7::\/64 via fe80::1 /m);
      await agent.call({ op: 'mode', mode: 'echo' });
      assert.match(pingOk(ns, '203.0.113.9'), /3 received/);
      assert.match(pingOk(ns, '2001:db8:7::9'), /3 received/);
      const c = await agent.call<Counters>({ op: 'counters' });
      assert.equal(c.echoed, 6);
      assert.equal(c.neighbour, 0);
    },
    ['203.0.113.1/24', '2001:db8:7::1/64'],
    [],
  );
});

test('a TCP SYN whose checksum the kernel left partial arrives with a correct checksum', { skip }, async () => {
  await withLink('tcp', async (ns, agent) => {
    const sender = nodeIn(
      ns,
      `import net from 'node:net'; const s = net.connect(5001, '${PEER4}'); s.on('error', () => {}); setTimeout(() => process.exit(0), 10000);`,
    );
    try {
      const syn = await waitForPacket(agent, (p) => p[0]! >> 4 === 4 && protoOf(p) === IPPROTO_TCP);
      const l4 = l4Offset(syn);
      assert.equal(readU16(syn, l4 + 2), 5001, 'destination port');
      assert.equal(syn[l4 + 13]! & 0x02, 0x02, 'SYN flag');
      assert.notEqual(readU16(syn, l4 + TCP_OFF_CHECKSUM), 0);
      assert.ok(l4ChecksumValid(syn), 'TCP checksum verifies over the pseudo-header');
      const c = await agent.call<Counters>({ op: 'counters' });
      assert.ok(c.checksumsFinished >= 1, `the checksum arrived partial and was finished (${c.checksumsFinished})`);
    } finally {
      sender.kill();
    }
  });
});

for (const [family, dst, ipHdr] of [
  [4, PEER4, 20],
  [6, PEER6, 40],
] as const) {
  test(`a ${UDP_PAYLOAD}-byte UDP datagram over IPv${family} arrives whole with a valid checksum`, { skip }, async () => {
    await withLink(`udp${family}`, async (ns, agent) => {
      const sender = nodeIn(
        ns,
        `import dgram from 'node:dgram'; const s = dgram.createSocket('udp${family}');
         const b = Buffer.alloc(${UDP_PAYLOAD}); for (let i = 0; i < b.length; i++) b[i] = (i * 7 + 3) & 0xff;
         s.send(b, 9, '${dst}', (err) => { s.close(); process.exit(err ? 1 : 0); });`,
      );
      assert.equal(await sender.done, 0, 'the sender sent');
      const p = await waitForPacket(agent, (q) => protoOf(q) === IPPROTO_UDP);
      assert.equal(p.length, ipHdr + 8 + UDP_PAYLOAD);
      assert.equal(readU16(p, ipHdr + UDP_OFF_LEN), 8 + UDP_PAYLOAD);
      assert.equal(readU16(p, ipHdr + 2), 9, 'destination port');
      assert.notEqual(readU16(p, ipHdr + UDP_OFF_CHECKSUM), 0, 'a checksum is present');
      assert.ok(l4ChecksumValid(p), 'UDP checksum verifies over the pseudo-header');
      for (let i = 0; i < UDP_PAYLOAD; i++) {
        if (p[ipHdr + 8 + i] !== ((i * 7 + 3) & 0xff)) assert.fail(`payload byte ${i} differs`);
      }
    });
  });
}

test('close() removes every interface it made', { skip }, async () => {
  await withLink('close', async (ns, agent) => {
    assert.deepEqual(ns.links().sort(), ['iro0', 'iro0-t', 'iro0-v', 'lo']);
    await agent.call({ op: 'close' });
    assert.deepEqual(ns.links(), ['lo']);
    await agent.call({ op: 'exit', code: 0 }).catch(() => undefined);
    assert.equal(await agent.exited(), 0);
  });
});

test('exiting without close() ends the blocked read and removes the interfaces', { skip }, async () => {
  await withLink('exit', async (ns, agent) => {
    await agent.call({ op: 'mode', mode: 'echo' });
    assert.match(pingOk(ns, PEER4), /3 received/, 'the reader is running (and now blocked in read)');
    await agent.call({ op: 'exit', code: 3 }).catch(() => undefined);
    assert.equal(await agent.exited(), 3, 'the process exited (no read left blocking it)');
    assert.deepEqual(ns.links(), ['lo']);
  });
});

test('two namespaces whose macvtaps share an ifindex each get their own device', { skip }, async () => {
  await withLink('twoA', async (nsA, agentA, openedA) => {
    await withLink('twoB', async (nsB, agentB, openedB) => {
      assert.notEqual(openedA.devicePath, openedB.devicePath);
      assert.ok(openedA.privateNode || openedB.privateNode, 'the second /dev/tapN of one ifindex is a private node');
      for (const o of [openedA, openedB]) {
        if (o.privateNode) assert.equal(existsSync(o.devicePath!), false, `private node ${o.devicePath} was removed after opening`);
      }
      await agentA.call({ op: 'mode', mode: 'echo' });
      await agentB.call({ op: 'mode', mode: 'echo' });
      assert.match(pingOk(nsA, PEER4), /3 received/);
      assert.match(pingOk(nsB, PEER6), /3 received/);
      const a = await agentA.call<Counters>({ op: 'counters' });
      const b = await agentB.call<Counters>({ op: 'counters' });
      assert.equal(a.echoed, 3, 'A saw only its own pings');
      assert.equal(b.echoed, 3, 'B saw only its own pings');
      await agentB.call({ op: 'close' });
      assert.deepEqual(nsB.links(), ['lo']);
    });
    assert.deepEqual(nsA.links().sort(), ['iro0', 'iro0-t', 'iro0-v', 'lo'], 'closing B left A alone');
  });
});

test('without CAP_NET_ADMIN: PrivilegeError with the exact fix, nothing left behind', { skip }, async () => {
  const ns = createNetns('priv');
  const agent = startAgent(ns.name, AGENT, AGENT_ENV, ['setpriv', '--bounding-set=-net_admin', '--']);
  try {
    const opened = await agent.call<Opened>({ op: 'open', name: LINK, mtu: MTU, addresses: ADDRESSES });
    assert.equal(opened.failed, true);
    assert.equal(opened.code, 'ERR_PRIVILEGE');
    assert.equal(opened.fix, MACVTAP_FIX_PRIVILEGE);
    assert.deepEqual(ns.links(), ['lo']);
  } finally {
    agent.kill();
    ns.destroy();
  }
});
