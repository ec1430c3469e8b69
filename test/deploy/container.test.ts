/**
 * The gateway container for real: deploy/Dockerfile is built with podman on a local base image
 * (images.ts: debootstrap + this machine's Node; no registry is reachable), run read-only with
 * only --cap-add NET_ADMIN and --device /dev/net/tun inside a test network namespace, and a
 * mobile node started from this checkout in another namespace reaches a host on the home network
 * behind the gateway through it: ping, and a TCP transfer whose bytes and source address (the
 * home address) the far end confirms. After start-up the gateway runs as the unprivileged user
 * with no capabilities, its HEALTHCHECK passes, /healthz says ok, and `iro doctor` run inside it
 * finds nothing wrong.
 *
 *   MN ns                       GW ns (the container)                  HOME ns
 *   iro up mn0.conf             iro up /etc/iro/gw0.conf
 *   203.0.113.2 ---- veth ----- 203.0.113.1   192.0.2.1 ---- veth ---- 192.0.2.2 (server)
 *   HoA 198.51.100.10 (TUN)     forwards TUN <-> home link              198.51.100.0/24 via 192.0.2.1
 *
 * Build times are reported as test diagnostics (the base image is built once per machine).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statusIds } from '../../src/ops/index.js';
import { BUILD_DIR, REPO_ROOT } from '../helpers/paths.js';
import { missingFromExposition } from './metric-names.js';
import { Lab, nsRun } from '../helpers/netns.js';
import { buildGatewayImage, ensureBaseImage, podman, podmanOk } from './images.js';

const MAIN = join(BUILD_DIR, 'src', 'cli', 'main.js');
const RUNNER = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(process.argv.slice(1));`;
/** The image's unprivileged user (deploy/Dockerfile). */
const GATEWAY_UID = 10001;
const HOME_SERVER = '192.0.2.2';
const HOME_ADDRESS = '198.51.100.10';
const TCP_PORT = 5201;
const TRANSFER_BYTES = 8 << 20;
const CONNECT_WITHIN_MS = 90_000;

const skip = process.getuid?.() !== 0 && 'needs root (network namespaces, podman)';

const key = (): string => randomBytes(20).toString('hex');

function gatewayConfig(toMn: string, toHa: string): string {
  return `[Interface]
Role       = home-agent
Address    = 198.51.100.1/32, 2001:db8:100::1/128
HomePrefix = 198.51.100.0/24, 2001:db8:100::/64
ListenPort = 4500
Metrics    = 127.0.0.1:9469
StateDir   = /var/lib/iro

[Peer]
Name        = laptop
Role        = mobile-node
HomeAddress = ${HOME_ADDRESS}, 2001:db8:100::10
Mode        = tunnel
NAT         = allow
SPIOut      = 0x00002001
SPIIn       = 0x00001001
KeyOut      = ${toMn}
KeyIn       = ${toHa}
`;
}

function mobileConfig(toMn: string, toHa: string, stateDir: string): string {
  return `[Interface]
Role        = mobile-node
HomeAddress = ${HOME_ADDRESS}/32, 2001:db8:100::10/128
CareOf      = auto
Metrics     = 127.0.0.1:9470
StateDir    = ${stateDir}

[Peer]
Name       = home
Role       = home-agent
Identity   = 198.51.100.1, 2001:db8:100::1
Endpoint   = 203.0.113.1:4500
Mode       = tunnel
AllowedIPs = 192.0.2.0/24
SPIOut     = 0x00001001
SPIIn      = 0x00002001
KeyOut     = ${toHa}
KeyIn      = ${toMn}
`;
}

/** GET `url` from inside `ns`; null when nothing answers. */
function fetchIn(ns: string, url: string): { status: number; body: string } | null {
  const script = `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(3000) })
    .then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })), () => console.log('null'))`;
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { encoding: 'utf8', timeout: 15_000 });
  return r.status === 0 ? (JSON.parse(r.stdout) as { status: number; body: string } | null) : null;
}

async function waitFor<T>(what: string, withinMs: number, probe: () => T | null, why: () => string): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const v = probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${withinMs / 1000} s\n${why()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

test('gateway container: built on a local base, run read-only in a namespace, carries ping and TCP as an unprivileged user', { skip, timeout: 45 * 60_000 }, async (t) => {
  const base = ensureBaseImage();
  t.diagnostic(base.builtSeconds > 0 ? `base image ${base.tag} built in ${base.builtSeconds.toFixed(0)} s (debootstrap + import)` : `base image ${base.tag} from the cache`);
  const image = `localhost/iro-gateway:test-${process.pid}`;
  const buildSeconds = buildGatewayImage(REPO_ROOT, base.tag, image);
  t.diagnostic(`podman build of deploy/Dockerfile took ${buildSeconds.toFixed(0)} s`);

  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), 'iro-container-test-'));
  const name = `iro-gw-test-${process.pid}`;
  const volume = `iro-gw-state-${process.pid}`;
  let client: ChildProcess | undefined;
  let server: ChildProcess | undefined;
  const logs = (): string => {
    const gw = podman(['logs', name]);
    let mn = '';
    try {
      mn = readFileSync(join(dir, 'mn0.log'), 'utf8');
    } catch {
      // not started
    }
    return `--- gateway log ---\n${(gw.stdout + gw.stderr).slice(-6000)}\n--- mobile node log ---\n${mn.slice(-6000)}`;
  };
  try {
    const gwNs = lab.netns('gw');
    const mnNs = lab.netns('mn');
    const homeNs = lab.netns('hm');
    const access = lab.veth(mnNs, gwNs);
    lab.address(mnNs, access.a, '203.0.113.2/24');
    lab.address(gwNs, access.b, '203.0.113.1/24');
    const home = lab.veth(gwNs, homeNs);
    lab.address(gwNs, home.a, '192.0.2.1/24');
    lab.address(homeNs, home.b, `${HOME_SERVER}/24`);
    nsRun(homeNs, 'ip', ['route', 'add', '198.51.100.0/24', 'via', '192.0.2.1']);
    nsRun(gwNs, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    nsRun(gwNs, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.forwarding=1']);

    const toMn = key();
    const toHa = key();
    const gwConf = join(dir, 'gw0.conf');
    writeFileSync(gwConf, gatewayConfig(toMn, toHa), { mode: 0o600 });
    const mnConf = join(dir, 'mn0.conf');
    writeFileSync(mnConf, mobileConfig(toMn, toHa, join(dir, 'mn-state')), { mode: 0o600 });
    const runDir = join(dir, 'run');
    mkdirSync(runDir, { mode: 0o700 });

    podmanOk(['volume', 'create', volume]);
    podmanOk([
      'run', '-d', '--name', name, '--pull', 'never',
      '--network', `ns:/run/netns/${gwNs}`,
      '--cap-add', 'NET_ADMIN', '--device', '/dev/net/tun',
      '--read-only',
      '-v', `${volume}:/var/lib/iro`,
      '-v', `${gwConf}:/etc/iro/gw0.conf:ro`,
      image,
    ]);

    const health = await waitFor('the gateway answering /healthz', 60_000, () => fetchIn(gwNs, 'http://127.0.0.1:9469/healthz'), logs);
    assert.equal(health.status, 200, health.body);
    assert.equal((JSON.parse(health.body) as { ok: boolean }).ok, true);

    const pid = podmanOk(['inspect', '--format', '{{.State.Pid}}', name]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.deepEqual(cmdline.slice(1, 3), ['/app/bin/iro.js', 'up'], 'the container process is iro up itself');
    assert.deepEqual(statusIds(status, 'Uid'), [GATEWAY_UID, GATEWAY_UID, GATEWAY_UID, GATEWAY_UID], `gateway uids\n${logs()}`);
    assert.deepEqual(statusIds(status, 'Gid'), [GATEWAY_UID, GATEWAY_UID, GATEWAY_UID, GATEWAY_UID]);
    assert.match(status, /^CapEff:\s*0000000000000000$/m, 'no capability left after start-up');

    const check = podman(['healthcheck', 'run', name]);
    assert.equal(check.status, 0, `HEALTHCHECK: ${check.stdout}${check.stderr}`);
    const doctor = podman(['exec', name, 'iro', 'doctor', '--json', '/etc/iro/gw0.conf']);
    assert.equal(doctor.status, 0, `iro doctor in the running container: ${doctor.stdout}${doctor.stderr}`);
    const findings = (JSON.parse(doctor.stdout) as { findings: { id: string; severity: string }[] }).findings;
    assert.deepEqual(findings.filter((f) => f.severity !== 'ok'), []);
    assert.deepEqual(findings.map((f) => f.id).sort(), ['capabilities', 'clock', 'config', 'forwarding.ipv4', 'forwarding.ipv6', 'port', 'tun']);
    const write = podman(['exec', name, 'sh', '-c', 'touch /app/probe']);
    assert.notEqual(write.status, 0, 'the root file system is read-only');
    assert.match(write.stderr, /Read-only file system/);

    server = spawn(
      'ip',
      ['netns', 'exec', homeNs, process.execPath, '-e', `
        const h = require('node:crypto'); const net = require('node:net');
        net.createServer((s) => {
          const d = h.createHash('sha256'); let n = 0;
          s.on('data', (b) => { d.update(b); n += b.length; });
          s.on('end', () => s.end(JSON.stringify({ bytes: n, sha256: d.digest('hex'), remote: s.remoteAddress })));
        }).listen(${TCP_PORT}, '${HOME_SERVER}', () => console.log('listening'));`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await once(server.stdout!, 'data');

    const mnLog = openSync(join(dir, 'mn0.log'), 'w');
    client = spawn('ip', ['netns', 'exec', mnNs, process.execPath, '--input-type=module', '-e', RUNNER, 'up', mnConf], {
      env: { ...process.env, IRO_RUN_DIR: runDir },
      stdio: ['ignore', mnLog, mnLog],
    });
    closeSync(mnLog);

    await waitFor(
      'a ping from the mobile node to the home network',
      CONNECT_WITHIN_MS,
      () => (spawnSync('ip', ['netns', 'exec', mnNs, 'ping', '-c', '1', '-W', '1', HOME_SERVER]).status === 0 ? true : null),
      logs,
    );
    const ping = spawnSync('ip', ['netns', 'exec', mnNs, 'ping', '-c', '5', '-i', '0.2', '-W', '2', HOME_SERVER], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(ping.status, 0, ping.stdout + logs());
    assert.match(ping.stdout, /5 packets transmitted, 5 received/);

    const transfer = spawnSync(
      'ip',
      ['netns', 'exec', mnNs, process.execPath, '-e', `
        const h = require('node:crypto'); const net = require('node:net');
        const data = h.randomBytes(${TRANSFER_BYTES});
        const sha256 = h.createHash('sha256').update(data).digest('hex');
        let reply = '';
        const s = net.connect(${TCP_PORT}, '${HOME_SERVER}', () => s.end(data));
        s.setEncoding('utf8');
        s.on('data', (t) => { reply += t; });
        s.on('end', () => console.log(JSON.stringify({ sent: data.length, sha256, reply: JSON.parse(reply) })));
        s.setTimeout(60000, () => { console.error('transfer timed out'); process.exit(2); });`],
      { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 20 },
    );
    assert.equal(transfer.status, 0, transfer.stderr + logs());
    const result = JSON.parse(transfer.stdout) as { sent: number; sha256: string; reply: { bytes: number; sha256: string; remote: string } };
    assert.equal(result.reply.bytes, TRANSFER_BYTES);
    assert.equal(result.reply.sha256, result.sha256, 'the home host received exactly the bytes sent');
    assert.equal(result.reply.remote, HOME_ADDRESS, 'the home host saw the home address, so the bytes came through the tunnel');

    const metrics = fetchIn(gwNs, 'http://127.0.0.1:9469/metrics');
    assert.ok(metrics !== null && metrics.status === 200);
    const received = /^iro_packets_total\{peer="laptop",direction="in"\} (\d+)/m.exec(metrics.body);
    assert.ok(received && Number(received[1]) > TRANSFER_BYTES / 1500, `the gateway counted the ESP packets: ${received?.[0]}`);
    // The shipped dashboard and alert rules query only what this running gateway exports.
    const missing = missingFromExposition(metrics.body, REPO_ROOT);
    assert.deepEqual(missing, { dashboard: [], rules: [], used: missing.used }, 'metrics the dashboard or rules use that the gateway lacks');
  } finally {
    await stop(client);
    await stop(server);
    podman(['rm', '-f', '-t', '5', name]);
    podman(['volume', 'rm', '-f', volume]);
    podman(['rmi', image]);
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
