/**
 * Container images for the gateway test, built without any registry (none is reachable here):
 *   - a base image: a Debian root file system made by debootstrap (the host's release and
 *     mirror, variant minbase, plus iproute2 and netbase) with this machine's Node, npm and
 *     Node headers copied in, and the host's CA bundle as NODE_EXTRA_CA_CERTS so `npm ci` in
 *     the build stage trusts what the host trusts. Built once per Node version and cached as a podman
 *     image (podman's store persists on the machine, so CI builds it once);
 *   - the gateway image: deploy/Dockerfile built from this checkout with --build-arg BASE.
 * podman runs with runc, cgroupfs and a containers.conf without default ulimits (LAB.md
 * "Containers without Docker").
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureTool } from './tools.js';

export const CACHE_DIR = process.env['IRO_TEST_CACHE'] ?? '/var/cache/iro-test';
const CONTAINERS_CONF = join(CACHE_DIR, 'containers.conf');
/** Bump to rebuild cached base images when the recipe below changes. */
const RECIPE = 2;
const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';
const SOURCES_DIR = '/etc/apt/sources.list.d';
const IMAGE_CA = '/usr/local/share/iro-test/host-ca.crt';

const PODMAN_FLAGS = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];

export function ensurePodman(): void {
  ensureTool('podman', ['podman', 'runc']);
  ensureTool('runc', ['runc']);
  mkdirSync(CACHE_DIR, { recursive: true });
  writeFileSync(CONTAINERS_CONF, '[containers]\ndefault_ulimits = []\n');
}

/** Runs `podman ARGS` with the runtime settings this machine needs. */
export function podman(args: readonly string[], options: { timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync('podman', [...PODMAN_FLAGS, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CONTAINERS_CONF },
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** `podman ARGS`, throwing with its output unless it exits 0; returns stdout trimmed. */
export function podmanOk(args: readonly string[], timeoutMs?: number): string {
  const r = podman(args, timeoutMs !== undefined ? { timeoutMs } : {});
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`.slice(0, 8000));
  return r.stdout.trim();
}

function osRelease(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync('/etc/os-release', 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=("?)(.*)\2$/.exec(line);
    if (m) out[m[1]!] = m[3]!;
  }
  return out;
}

/** The Debian mirror apt uses for `suite` (deb822 or one-line sources), else deb.debian.org. */
export function debianMirror(suite: string): string {
  const files = ['/etc/apt/sources.list'];
  try {
    for (const f of readdirSync(SOURCES_DIR).sort()) files.push(join(SOURCES_DIR, f));
  } catch {
    // no sources.list.d
  }
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const block of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(block)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(block)?.[1]?.split(/\s+/) ?? [];
      if (uri !== undefined && suites.includes(suite) && /^Types:.*\bdeb\b/m.test(block)) return uri;
    }
    for (const m of text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s/gm)) if (m[2] === suite) return m[1]!;
  }
  return 'http://deb.debian.org/debian';
}

function run(cmd: string, args: readonly string[], timeoutMs: number): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr ?? '').slice(-4000)}`);
}

export interface BaseImage {
  readonly tag: string;
  /** Seconds spent building it now; 0 when it came from the cache. */
  readonly builtSeconds: number;
}

/** The local base image for this Node, built with debootstrap unless podman already has it. */
export function ensureBaseImage(): BaseImage {
  ensurePodman();
  const node = realpathSync(process.execPath);
  const prefix = dirname(dirname(node));
  const npm = join(prefix, 'lib', 'node_modules', 'npm');
  const headers = join(prefix, 'include', 'node');
  for (const p of [npm, join(headers, 'node_api.h')]) if (!existsSync(p)) throw new Error(`the base image needs ${p} (npm and Node's headers beside ${node})`);
  const suite = osRelease()['VERSION_CODENAME'] ?? 'bookworm';
  const key = createHash('sha256').update(`${RECIPE}:${suite}:${process.version}:${readFileSync(node).length}`).digest('hex').slice(0, 12);
  const tag = `localhost/iro-test-base:${process.version.slice(1)}-${key}`;
  if (podman(['image', 'exists', tag]).status === 0) return { tag, builtSeconds: 0 };

  const started = Date.now();
  ensureTool('debootstrap', ['debootstrap']);
  const rootfs = join(CACHE_DIR, `rootfs-${key}-${process.pid}`);
  rmSync(rootfs, { recursive: true, force: true });
  try {
    run('debootstrap', ['--variant=minbase', '--include=iproute2,netbase', suite, rootfs, debianMirror(suite)], 900_000);
    cpSync(node, join(rootfs, 'usr', 'bin', 'node'));
    cpSync(npm, join(rootfs, 'usr', 'lib', 'node_modules', 'npm'), { recursive: true, verbatimSymlinks: true });
    for (const tool of ['npm', 'npx']) {
      const link = join(rootfs, 'usr', 'bin', tool);
      rmSync(link, { force: true });
      symlinkSync(`../lib/node_modules/npm/bin/${tool}-cli.js`, link);
    }
    cpSync(headers, join(rootfs, 'usr', 'include', 'node'), { recursive: true, verbatimSymlinks: true });
    const changes: string[] = [];
    const ca = process.env['NODE_EXTRA_CA_CERTS'] ?? HOST_CA;
    if (existsSync(ca)) {
      cpSync(ca, join(rootfs, IMAGE_CA));
      changes.push('--change', `ENV NODE_EXTRA_CA_CERTS=${IMAGE_CA}`);
    }
    // tar streams straight into podman: the root file system never sits in memory.
    const imported = spawnSync(
      'sh',
      ['-c', 'dir=$1; shift; tar -C "$dir" -c . | podman "$@"', 'sh', rootfs, ...PODMAN_FLAGS, 'import', ...changes, '-', tag],
      { encoding: 'utf8', env: { ...process.env, CONTAINERS_CONF }, timeout: 600_000 },
    );
    if (imported.status !== 0) throw new Error(`podman import failed: ${imported.stderr}`);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  return { tag, builtSeconds: (Date.now() - started) / 1000 };
}

/**
 * Builds deploy/Dockerfile from `context` on `base` as `tag`; returns the seconds it took.
 * Without layer caching: every run builds from scratch anyway, and no intermediate images pile
 * up on the machine. The build's RUN steps use the host's network (apt, npm).
 */
export function buildGatewayImage(context: string, base: string, tag: string): number {
  const started = Date.now();
  podmanOk(
    [
      'build', '--layers=false', '--format', 'docker', '--network', 'host',
      '--build-arg', `BASE=${base}`, '-f', join(context, 'deploy', 'Dockerfile'), '-t', tag, context,
    ],
    1_200_000,
  );
  return (Date.now() - started) / 1000;
}
