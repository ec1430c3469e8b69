/**
 * Host checks (src/ops/checks.ts, startup.ts, findings.ts, caps.ts) on this machine and on fake
 * /proc and /sys trees: each problem is found, named by a stable id, and comes with the fix for
 * the place iro runs in (container, systemd unit, plain host).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import {
  CAP,
  assertStartup,
  checkCapabilities,
  checkClock,
  checkConfigFile,
  checkForwarding,
  checkTun,
  checkUdpPort,
  detectRuntime,
  forwardingFamilies,
  hasCapability,
  neededCapabilities,
  parseCapabilities,
  startupChecks,
  statusIds,
  type CapabilitySets,
  type Finding,
} from '../../src/ops/index.js';
import { IroError, PrivilegeError } from '../../src/util/errors.js';
import { writeGateway, writeMobileNode } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'iro-checks-test-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = (): string => {
  const d = join(root, String(n++));
  mkdirSync(d, { recursive: true });
  return d;
};

const STATUS = `Name:\tnode
Uid:\t0\t0\t0\t0
Gid:\t10001\t10001\t10001\t10001
CapInh:\t0000000000000000
CapPrm:\t00000000a80435fb
CapEff:\t00000000a80425fb
CapBnd:\t00000000a80435fb
`;

/** Capability sets with exactly `caps` effective and everything in the bounding set. */
function sets(...caps: (keyof typeof CAP)[]): CapabilitySets {
  const mask = caps.reduce((m, c) => m | (1n << BigInt(CAP[c])), 0n);
  return { effective: mask, permitted: mask, bounding: (1n << 41n) - 1n };
}

function only(findings: readonly Finding[], id: string): Finding {
  const f = findings.filter((x) => x.id === id);
  assert.equal(f.length, 1, `one ${id} finding in ${JSON.stringify(findings)}`);
  return f[0]!;
}

test('capabilities and ids are read from /proc/PID/status', () => {
  const caps = parseCapabilities(STATUS);
  assert.equal(caps.effective, 0xa80425fbn);
  assert.equal(hasCapability(caps.effective, 'NET_ADMIN'), false, 'bit 12 is clear in CapEff');
  assert.equal(hasCapability(caps.permitted, 'NET_ADMIN'), true);
  assert.equal(hasCapability(caps.effective, 'NET_RAW'), true);
  assert.deepEqual(statusIds(STATUS, 'Gid'), [10001, 10001, 10001, 10001]);
  assert.throws(() => parseCapabilities('Name: x\n'), RangeError);
});

test('TUN device: missing, not a device, the wrong device, and the real one', () => {
  const d = dir();
  const missing = checkTun({ runtime: 'container', devicePath: join(d, 'tun') });
  assert.equal(missing.severity, 'fail');
  assert.match(missing.fix!, /--device \/dev\/net\/tun/);
  assert.match(checkTun({ runtime: 'host', devicePath: join(d, 'tun') }).fix!, /modprobe tun/);
  writeFileSync(join(d, 'file'), '');
  assert.match(checkTun({ runtime: 'host', devicePath: join(d, 'file') }).message, /not a character device/);
  assert.match(checkTun({ runtime: 'host', devicePath: '/dev/null' }).message, /device 1,3, not the TUN device 10,200/);
  assert.deepEqual(checkTun({ runtime: 'host' }).severity, 'ok');
});

test('capabilities: each missing one named with why, and the fix for where iro runs', () => {
  const needs = neededCapabilities(null, false);
  assert.deepEqual(checkCapabilities(needs, 'host', sets('NET_ADMIN')).severity, 'ok');
  const container = checkCapabilities(needs, 'container', sets('NET_RAW'));
  assert.equal(container.severity, 'fail');
  assert.match(container.message, /CAP_NET_ADMIN \(needed to create the TUN interface/);
  assert.equal(container.fix, 'run the container with --cap-add NET_ADMIN (compose: cap_add: [NET_ADMIN])');
  assert.match(checkCapabilities(needs, 'systemd', sets()).fix!, /CapabilityBoundingSet=/);
  assert.match(checkCapabilities(needs, 'host', sets()).fix!, /run iro as root/);
  const bounded = checkCapabilities(needs, 'host', { effective: 0n, permitted: 0n, bounding: 0n });
  assert.match(bounded.message, /not even in the bounding set/);
});

test('needed capabilities follow the config: raw ESP, low ports, the privilege drop', () => {
  const d = dir();
  const udp = loadConfig(writeGateway(d, 'ha0').config);
  assert.deepEqual(neededCapabilities(udp, false).map((x) => x.cap), ['NET_ADMIN']);
  const esp = loadConfig(writeGateway(d, 'ha1', { encapsulation: 'esp', listenPort: 500 }).config);
  assert.deepEqual(neededCapabilities(esp, true).map((x) => x.cap), ['NET_ADMIN', 'NET_RAW', 'NET_BIND_SERVICE', 'SETUID', 'SETGID', 'CHOWN']);
  const fix = checkCapabilities(neededCapabilities(esp, false), 'container', sets('NET_ADMIN')).fix;
  assert.equal(fix, 'run the container with --cap-add NET_RAW --cap-add NET_BIND_SERVICE (compose: cap_add: [NET_RAW, NET_BIND_SERVICE])');
});

test('forwarding: off, on, and IPv6 disabled, for the families a home agent serves', () => {
  const d = dir();
  const sys = join(d, 'sys');
  mkdirSync(join(sys, 'net/ipv4'), { recursive: true });
  writeFileSync(join(sys, 'net/ipv4/ip_forward'), '0\n');
  const config = loadConfig(writeGateway(d, 'ha0').config);
  assert.deepEqual(forwardingFamilies(config), [4, 6]);
  assert.deepEqual(forwardingFamilies(loadConfig(writeMobileNode(d, 'mn0', '203.0.113.1:4500', 'auto'))), []);
  const findings = checkForwarding(forwardingFamilies(config), { runtime: 'host', procSys: sys });
  const v4 = only(findings, 'forwarding.ipv4');
  assert.equal(v4.severity, 'fail');
  assert.equal(v4.fix, "sysctl -w net.ipv4.ip_forward=1 && echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-iro.conf");
  const v6 = only(findings, 'forwarding.ipv6');
  assert.match(v6.message, /IPv6 is disabled/);
  mkdirSync(join(sys, 'net/ipv6/conf/all'), { recursive: true });
  writeFileSync(join(sys, 'net/ipv6/conf/all/forwarding'), '1\n');
  writeFileSync(join(sys, 'net/ipv4/ip_forward'), '1\n');
  assert.deepEqual(checkForwarding([4, 6], { runtime: 'container', procSys: sys }).map((f) => f.severity), ['ok', 'ok']);
  writeFileSync(join(sys, 'net/ipv4/ip_forward'), '0\n');
  assert.match(checkForwarding([4], { runtime: 'container', procSys: sys })[0]!.fix!, /^run the container with --sysctl net\.ipv4\.ip_forward=1/);
});

test('UDP port: free, then held by this very process (named with its pid)', async () => {
  const sock: Socket = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind({ port: 0, address: '0.0.0.0' }, resolve));
  const port = sock.address().port;
  try {
    const held = await checkUdpPort(port);
    assert.equal(held.id, 'port');
    assert.equal(held.severity, 'fail');
    assert.match(held.message, new RegExp(`UDP port ${port} is already in use by .*\\(pid ${process.pid}\\)`));
    assert.match(held.fix!, new RegExp(`kill ${process.pid}`));
    assert.match(held.fix!, new RegExp(`ListenPort = ${port + 1}`));
  } finally {
    await new Promise<void>((resolve) => sock.close(resolve));
  }
  assert.equal((await checkUdpPort(port)).severity, 'ok');
});

test('clock: before iro existed, gone back behind the state files, not NTP-synchronized', () => {
  const d = dir();
  const bin = join(d, 'bin');
  mkdirSync(bin);
  const timedatectl = join(bin, 'timedatectl');
  const env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` };
  writeFileSync(timedatectl, '#!/bin/sh\necho yes\n');
  chmodSync(timedatectl, 0o755);
  const fine = checkClock({ env, stateDir: d });
  assert.equal(fine.severity, 'ok');
  assert.match(fine.message, /NTP-synchronized/);

  const early = checkClock({ env, now: Date.UTC(1970, 0, 2) });
  assert.equal(early.severity, 'fail');
  assert.match(early.message, /1970-01-02/);
  assert.match(early.fix!, /timedatectl set-ntp true/);

  const state = join(d, 'state');
  mkdirSync(state);
  writeFileSync(join(state, 'ha0.state.json'), '{}');
  const future = new Date(Date.now() + 24 * 3600 * 1000);
  utimesSync(join(state, 'ha0.state.json'), future, future);
  const back = checkClock({ env, stateDir: state });
  assert.equal(back.severity, 'warn');
  assert.match(back.message, /the clock went back: .*ha0\.state\.json/);

  writeFileSync(timedatectl, '#!/bin/sh\necho no\n');
  const unsynced = checkClock({ env });
  assert.equal(unsynced.severity, 'warn');
  assert.match(unsynced.message, /not synchronized by NTP/);
});

test('config: a key file readable by others is a failure with its chmod, and the rest still checks', () => {
  const d = dir();
  const files = writeGateway(d, 'ha0', { keyInMode: 0o644 });
  const result = checkConfigFile(files.config);
  const bad = result.findings.filter((f) => f.severity === 'fail');
  assert.equal(bad.length, 1, JSON.stringify(result.findings));
  assert.equal(bad[0]!.id, 'config');
  assert.match(bad[0]!.message, new RegExp(`key file ${files.keyIn} is readable by group or others \\(mode 0644\\)`));
  assert.equal(bad[0]!.fix, `chmod 600 ${files.keyIn}`);
  assert.equal(result.config?.interface.role, 'home-agent', 'read leniently so the other checks can run');

  chmodSync(files.keyIn, 0o600);
  chmodSync(files.config, 0o666);
  const writable = checkConfigFile(files.config).findings.filter((f) => f.severity === 'fail');
  assert.equal(writable.length, 1);
  assert.match(writable[0]!.message, /writable by group or others \(mode 0666\)/);
  assert.equal(writable[0]!.fix, `chmod 600 ${files.config}`);

  chmodSync(files.config, 0o600);
  const good = checkConfigFile(files.config).findings;
  assert.deepEqual(good.map((f) => [f.id, f.severity]), [['config', 'ok']]);

  writeFileSync(files.config, '[Interface]\nRole = gateway\n', { mode: 0o600 });
  const broken = checkConfigFile(files.config);
  assert.equal(broken.config, null);
  assert.ok(broken.findings.some((f) => f.severity === 'fail' && /Interface\.Role/.test(f.message)));
});

test('runtime: podman and Docker containers, a VM image that kept /.dockerenv, a systemd unit', () => {
  const d = dir();
  const mounts = join(d, 'mounts');
  writeFileSync(mounts, '/dev/vda / ext4 rw 0 0\n');
  assert.equal(detectRuntime({ env: { container: 'podman' }, root: `${d}/`, mounts }), 'container');
  assert.equal(detectRuntime({ env: {}, root: `${d}/`, mounts }), 'host');
  assert.equal(detectRuntime({ env: { INVOCATION_ID: 'abc' }, root: `${d}/`, mounts }), 'systemd');
  writeFileSync(join(d, '.dockerenv'), '');
  assert.equal(detectRuntime({ env: {}, root: `${d}/`, mounts }), 'host', '/.dockerenv on an ext4 root is a VM image');
  writeFileSync(mounts, 'overlay / overlay rw,lowerdir=/x 0 0\n');
  assert.equal(detectRuntime({ env: {}, root: `${d}/`, mounts }), 'container');
  mkdirSync(join(d, 'x', 'run'), { recursive: true });
  writeFileSync(join(d, 'x', 'run', '.containerenv'), '');
  assert.equal(detectRuntime({ env: {}, root: `${d}/x/`, mounts: join(d, 'none') }), 'container');
});

test('start-up: a missing privilege stops iro with exit 77 and the fix; forwarding off with ERR_STATE', () => {
  const d = dir();
  const config = loadConfig(writeGateway(d, 'ha0').config);
  const sys = join(d, 'sys');
  mkdirSync(join(sys, 'net/ipv4'), { recursive: true });
  mkdirSync(join(sys, 'net/ipv6/conf/all'), { recursive: true });
  writeFileSync(join(sys, 'net/ipv4/ip_forward'), '1\n');
  writeFileSync(join(sys, 'net/ipv6/conf/all/forwarding'), '1\n');

  const good = startupChecks(config, { runtime: 'container', procSys: sys, capabilities: sets('NET_ADMIN') });
  assert.deepEqual(good.map((f) => f.id), ['tun', 'capabilities', 'forwarding.ipv4', 'forwarding.ipv6']);
  assert.doesNotThrow(() => assertStartup(good));

  const noCaps = startupChecks(config, { runtime: 'container', procSys: sys, capabilities: sets('NET_ADMIN'), dropUser: true });
  assert.throws(
    () => assertStartup(noCaps),
    (err: unknown) =>
      err instanceof PrivilegeError &&
      err.code === 'ERR_PRIVILEGE' &&
      err.fix === 'run the container with --cap-add SETUID --cap-add SETGID --cap-add CHOWN (compose: cap_add: [SETUID, SETGID, CHOWN])',
  );

  writeFileSync(join(sys, 'net/ipv4/ip_forward'), '0\n');
  const noForwarding = startupChecks(config, { runtime: 'host', procSys: sys, capabilities: sets('NET_ADMIN') });
  assert.throws(
    () => assertStartup(noForwarding),
    (err: unknown) =>
      err instanceof IroError && !(err instanceof PrivilegeError) && err.code === 'ERR_STATE' && /fix: sysctl -w net\.ipv4\.ip_forward=1/.test(err.message),
  );
});
