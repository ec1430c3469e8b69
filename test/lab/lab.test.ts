/**
 * The namespace lab itself: namespaces and veth pairs appear and disappear, processes started in
 * them end at teardown, a failure between setup and teardown leaves nothing behind, the tunnel
 * topology has no path around the tunnel, and the NAT router masquerades. Needs root.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ADDRESSES, Lab, buildTunnelTopology, ensureTools, runSync, sweepStaleNamespaces, transfer } from '../../src/lab/index.js';
import { eventually, namespacesOnHost, pidGone } from './helpers.js';

ensureTools(['ping', 'nft']);

test('namespaces, veths and processes exist until teardown, then are gone', async () => {
  const lab = new Lab();
  const a = lab.netns('a');
  const b = lab.netns('b', { forwarding: true });
  assert.match(a.name, new RegExp(`^iro-${process.pid}-\\d+-a$`));
  const pair = lab.link(a, b);
  assert.ok(pair.a.dev.includes(String(process.pid)), 'default veth names carry the PID');
  a.addAddress(pair.a.dev, '192.0.2.1/24');
  b.addAddress(pair.b.dev, '192.0.2.2/24');
  a.addAddress(pair.a.dev, '2001:db8::1/64');
  b.addAddress(pair.b.dev, '2001:db8::2/64');
  assert.deepEqual(a.links().sort(), [pair.a.dev, 'lo'].sort());
  assert.equal(b.execSync('sysctl', ['-n', 'net.ipv4.ip_forward']).stdout.trim(), '1');
  assert.equal(a.execSync('sysctl', ['-n', 'net.ipv4.ip_forward']).stdout.trim(), '0');
  assert.equal(a.execSync('sysctl', ['-n', 'net.ipv6.conf.default.accept_dad']).stdout.trim(), '0');
  // DAD off: the IPv6 address is usable at once (not "tentative").
  assert.doesNotMatch(a.ip(['-6', 'addr', 'show', 'dev', pair.a.dev]).stdout, /tentative/);
  const p4 = await a.ping('192.0.2.2', { count: 2 });
  const p6 = await a.ping('2001:db8::2', { count: 2 });
  assert.equal(p4.received, 2, p4.output);
  assert.equal(p6.received, 2, p6.output);
  const unreachable = await a.ping('192.0.2.99', { count: 1, deadlineSeconds: 1 });
  assert.notEqual(unreachable.status, 0);
  assert.equal(unreachable.received, 0);

  // Snapshots see a change to routes and rules, and its undoing.
  const clean = a.snapshot();
  assert.ok(clean.includes(`link ${pair.a.dev}`));
  a.addRoute('198.51.100.0/24', { via: '192.0.2.2' });
  a.ip(['rule', 'add', 'priority', '1234', 'lookup', 'main']);
  const changed = a.snapshot();
  assert.deepEqual(changed.filter((l) => !clean.includes(l)).sort(), ['1234:\tfrom all lookup main', '198.51.100.0/24 via 192.0.2.2 dev ' + pair.a.dev].sort());
  a.ip(['route', 'del', '198.51.100.0/24']);
  a.ip(['rule', 'del', 'priority', '1234']);
  assert.deepEqual(a.snapshot(), clean);

  const sleeper = a.spawn('sleep', ['600']);
  const dir = lab.tempDir('t');
  assert.ok(namespacesOnHost().includes(a.name));
  assert.ok(existsSync(dir));
  assert.deepEqual(lab.processes.map((p) => p.pid), [sleeper.pid]);

  assert.deepEqual(await lab.teardown(), []);
  assert.ok(!namespacesOnHost().includes(a.name));
  assert.ok(!namespacesOnHost().includes(b.name));
  assert.ok(await eventually(() => pidGone(sleeper.pid)));
  assert.equal(existsSync(dir), false);
  assert.deepEqual(await lab.teardown(), [], 'a second teardown does nothing');
  assert.throws(() => lab.netns('c'), { code: 'ERR_STATE' });
});

test('a failure between setup and teardown still removes everything (try/finally)', async () => {
  const lab = new Lab();
  let names: string[] = [];
  let pid = 0;
  await assert.rejects(async () => {
    try {
      const a = lab.netns('a');
      const b = lab.netns('b');
      lab.link(a, b, { nameA: 'x0', nameB: 'x0' });
      names = [a.name, b.name];
      pid = a.spawn('sleep', ['600']).pid;
      a.addAddress('x0', '192.0.2.1/24');
      a.addAddress('x0', '192.0.2.1/24'); // the same address twice: ip fails
    } finally {
      await lab.teardown();
    }
  }, { code: 'ERR_IO', message: /ip -n iro-\d+-\d+-a addr add 192\.0\.2\.1\/24 dev x0 failed \(exit status 2\)/ });
  assert.deepEqual(namespacesOnHost().filter((n) => names.includes(n)), []);
  assert.ok(await eventually(() => pidGone(pid)));
});

test('names are validated', async () => {
  const lab = new Lab();
  try {
    assert.throws(() => lab.netns('Bad_Tag'), RangeError);
    const a = lab.netns('a');
    assert.throws(() => lab.netns('a'), RangeError);
    assert.throws(() => lab.link(a, a, { nameA: 'this-name-is-too-long' }), RangeError);
    assert.throws(() => new Lab({ prefix: 'NO' }), RangeError);
  } finally {
    await lab.teardown();
  }
});

test('sweepStaleNamespaces deletes only namespaces of dead PIDs', async () => {
  // A PID above the kernel's pid_max cannot be alive.
  const stale = 'iro-4194399-0-zz';
  const lab = new Lab();
  try {
    const live = lab.netns('live');
    runSync('ip', ['netns', 'add', stale]);
    const deleted = sweepStaleNamespaces();
    assert.ok(deleted.includes(stale), `deleted ${deleted.join(', ')}`);
    assert.ok(!namespacesOnHost().includes(stale));
    assert.ok(namespacesOnHost().includes(live.name), 'the live lab is untouched');
  } finally {
    await lab.teardown();
  }
});

test('tunnel topology: the only way between client and server is through the gateway tunnel', async () => {
  const lab = new Lab();
  try {
    const t = buildTunnelTopology(lab, { attacker: true });
    const { home, identity, attack } = ADDRESSES;
    assert.equal((await t.client.ping(t.gatewayLocator4, { count: 1 })).received, 1);
    assert.equal((await t.client.ping(t.gatewayLocator6, { count: 1 })).received, 1);
    assert.equal((await t.server.ping(home.gateway4, { count: 1 })).received, 1);
    assert.equal((await t.attacker!.ping(t.gatewayLocator4, { count: 1, source: attack.attacker4 })).received, 1);
    assert.equal((await t.attacker!.ping(t.gatewayLocator6, { count: 1, source: attack.attacker6 })).received, 1);
    // No route client -> home network, and the gateway has no route to the home addresses yet.
    const direct = await t.client.ping(home.server4, { count: 1, deadlineSeconds: 1 });
    assert.equal(direct.received, 0, direct.output);
    const back = await t.server.ping(identity.hoa4, { count: 1, deadlineSeconds: 1 });
    assert.equal(back.received, 0, back.output);
  } finally {
    assert.deepEqual(await lab.teardown(), []);
  }
});

test('NAT router masquerades the client behind its outside address', async () => {
  const lab = new Lab();
  try {
    const t = buildTunnelTopology(lab, { nat: true });
    const out = await transfer({ from: t.client, to: t.gateway, address: t.gatewayLocator4, bytes: 100_000, timeoutMs: 20_000 });
    assert.equal(out.received.remoteAddress, ADDRESSES.wire.client4, 'the gateway sees the router, not the client');
    assert.equal(out.received.sha256, out.expected.sha256);
    const v6 = await transfer({ from: t.client, to: t.gateway, address: t.gatewayLocator6, bytes: 100_000, timeoutMs: 20_000 });
    assert.equal(v6.received.remoteAddress, ADDRESSES.inside.client6, 'IPv6 is routed unchanged');
    lab.flushConntrack(t.router!);
  } finally {
    assert.deepEqual(await lab.teardown(), []);
  }
});
