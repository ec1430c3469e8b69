/**
 * The deploy/ files agree with each other and with the code: what compose mounts and builds
 * exists; Prometheus scrapes the service and port the gateway config serves metrics on, which is
 * also what the image's HEALTHCHECK asks; the gateway example is a valid home agent matching
 * the mobile-node example; the Dockerfile copies only what exists and its runtime stage installs
 * no compiler.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { formatIp } from '../../src/util/addr.js';
import { REPO_ROOT } from '../helpers/paths.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const read = (p: string): string => readFileSync(join(DEPLOY, p), 'utf8');

test('compose: every file it mounts and the image it builds exist', () => {
  const compose = read('compose.yaml');
  const sources = [...compose.matchAll(/^\s*- (?:\$\{[A-Z_]+:-)?(\.{1,2}\/[^:}]+)\}?:/gm)].map((m) => m[1]!);
  assert.deepEqual(sources.sort(), ['./examples/gateway.conf', './grafana/iro.json', './grafana/provisioning', './prometheus'].sort());
  for (const s of sources) assert.ok(existsSync(resolve(DEPLOY, s)), s);
  assert.match(compose, /context: \.\.\n\s*dockerfile: deploy\/Dockerfile/);
  assert.ok(existsSync(join(REPO_ROOT, 'deploy', 'Dockerfile')));
  for (const flag of ['cap_add: [NET_ADMIN]', 'devices: ["/dev/net/tun:/dev/net/tun"]', 'read_only: true', 'net.ipv4.ip_forward: "1"']) {
    assert.ok(compose.includes(flag), flag);
  }
});

test('Prometheus scrapes the gateway service on the port its config and HEALTHCHECK use', () => {
  const config = loadConfig(join(DEPLOY, 'examples', 'gateway.conf'));
  assert.equal(config.interface.role, 'home-agent');
  const metrics = config.interface.metrics;
  assert.ok(metrics !== null);
  assert.equal(formatIp(metrics.address), '0.0.0.0', 'reachable from the Prometheus container');
  assert.match(read('prometheus/prometheus.yml'), new RegExp(`targets: \\["gateway:${metrics.port}"\\]`));
  assert.match(read('compose.yaml'), /^ {2}gateway:$/m);
  assert.match(read('Dockerfile'), new RegExp(`IRO_HEALTHZ_URL=http://127\\.0\\.0\\.1:${metrics.port}/healthz`));
  assert.equal(config.interface.stateDir, '/var/lib/iro', 'the image volume');
});

test('the gateway example serves the mobile-node example: keys and SPIs mirrored', () => {
  const gw = loadConfig(join(DEPLOY, 'examples', 'gateway.conf'));
  const mn = loadConfig(join(DEPLOY, 'examples', 'mobile-node.conf'));
  const laptop = gw.peers.find((p) => p.role === 'mobile-node')!;
  const home = mn.peers.find((p) => p.role === 'home-agent')!;
  assert.equal(laptop.sa.out.spi, home.sa.in.spi);
  assert.equal(laptop.sa.in.spi, home.sa.out.spi);
  assert.ok(laptop.sa.out.keymat.equals(home.sa.in.keymat));
  assert.ok(laptop.sa.in.keymat.equals(home.sa.out.keymat));
  assert.deepEqual(mn.interface.homeAddresses.map((p) => formatIp(p.addr)).sort(), laptop.identities.map((a) => formatIp(a)).sort());
});

test('Dockerfile: copies what exists; the runtime stage has no compiler and drops root itself', () => {
  const text = read('Dockerfile');
  const stages = text.split(/^FROM /m);
  assert.equal(stages.length, 3, 'a build stage and a runtime stage');
  const [, build, runtime] = stages as [string, string, string];
  assert.match(build, /^\$\{BASE\} AS build/);
  assert.match(build, /npm ci/);
  for (const m of build.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const src of m[1]!.split(/\s+/)) assert.ok(existsSync(join(REPO_ROOT, src)), `COPY ${src}`);
  }
  assert.doesNotMatch(runtime, /g\+\+|gcc|python3|build-essential/);
  assert.doesNotMatch(runtime, /^USER /m, 'starts as root to open the TUN, then drops to IRO_USER');
  assert.match(runtime, /IRO_USER=iro/);
  assert.match(runtime, /useradd --system --uid 10001 --gid iro/);
  assert.match(runtime, /^VOLUME \["\/var\/lib\/iro"\]$/m);
  assert.match(runtime, /^HEALTHCHECK /m);
  assert.match(text, /^ARG BASE=node:20-bookworm-slim$/m);
});
