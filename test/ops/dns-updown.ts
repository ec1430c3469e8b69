/**
 * The `DNS =` scenario through the real CLI, for the `iro up`/`iro down` test: a mobile node in
 * its own network namespace comes up with `DNS = 192.0.2.53, 2001:db8::53`, its resolvers are
 * checked in force, then it goes down (cleanly with `iro down`, or killed with SIGKILL and
 * repaired by `iro down` from the restore journal) and the resolver state must equal the state
 * before. Resolver managers are the stand-ins of fake-resolvers.ts, found by iro on its PATH.
 * Not a test file itself: a test calls runDnsUpDown() once per case.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD_DIR } from '../helpers/paths.js';
import { Lab } from '../helpers/netns.js';
import { FakeResolvers, type ResolverKind } from './fake-resolvers.js';

const MAIN = join(BUILD_DIR, 'src', 'cli', 'main.js');
const RUNNER = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(process.argv.slice(1));`;
export const DNS_SERVERS = ['192.0.2.53', '2001:db8::53'];
const IFNAME = 'mn0';
const WAIT_MS = 30_000;

export interface DnsUpDownCase {
  readonly resolver: ResolverKind;
  /** 'down': stopped with `iro down`; 'crash': SIGKILL, then `iro down` repairs from the journal. */
  readonly stop: 'down' | 'crash';
}

async function until(what: string, check: () => boolean, why: () => string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${WAIT_MS / 1000} s\n${why()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs one case; throws an AssertionError when the resolvers are not applied or not restored. */
export async function runDnsUpDown(c: DnsUpDownCase): Promise<void> {
  if (c.resolver === 'resolvectl' && c.stop === 'crash') {
    throw new RangeError('systemd-resolved forgets a vanished link by itself; the fake cannot: test crash with resolvconf');
  }
  const resolvers = new FakeResolvers(c.resolver);
  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), 'iro-dns-updown-'));
  let daemon: ChildProcess | undefined;
  const logFile = join(dir, 'up.log');
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-6000) : '');
  try {
    const ns = lab.netns('dn');
    const far = lab.netns('df');
    const { a, b } = lab.veth(ns, far);
    lab.address(ns, a, '203.0.113.2/24');
    lab.address(far, b, '203.0.113.1/24');
    const runDir = join(dir, 'run');
    mkdirSync(runDir, { mode: 0o700 });
    const config = join(dir, `${IFNAME}.conf`);
    writeFileSync(
      config,
      `[Interface]
Role        = mobile-node
HomeAddress = 198.51.100.10/32, 2001:db8:100::10/128
DNS         = ${DNS_SERVERS.join(', ')}
Metrics     = off
StateDir    = ${join(dir, 'state')}

[Peer]
Name       = home
Role       = home-agent
Identity   = 198.51.100.1, 2001:db8:100::1
Endpoint   = 203.0.113.1:4500
Mode       = tunnel
AllowedIPs = 192.0.2.0/24
SPIOut     = 0x1001
SPIIn      = 0x2001
KeyOut     = ${'11'.repeat(20)}
KeyIn      = ${'22'.repeat(20)}
`,
      { mode: 0o600 },
    );
    const env = { ...resolvers.env, IRO_RUN_DIR: runDir };
    const before = resolvers.state();

    const out = openSync(logFile, 'w');
    daemon = spawn('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', RUNNER, 'up', config], {
      env,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    const socket = join(runDir, `${IFNAME}.sock`);
    await until('iro up', () => existsSync(socket), log);
    const expected = resolvers.expectedWhileUp(IFNAME, DNS_SERVERS);
    await until('the resolvers applied', () => JSON.stringify(resolvers.state()) === JSON.stringify(expected), () => `${JSON.stringify(resolvers.state())}\n${log()}`);
    if (c.resolver === 'none') {
      const warning = /DNS servers not applied: neither systemd-resolved \(resolvectl\) nor resolvconf is available/;
      await until('the warning that no resolver manager exists', () => warning.test(log()), log);
    }

    if (c.stop === 'crash') {
      daemon.kill('SIGKILL');
      await once(daemon, 'exit');
      assert.deepEqual(resolvers.state(), expected, 'a killed daemon cannot restore anything itself');
    }
    const down = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', RUNNER, 'down', config], {
      env,
      encoding: 'utf8',
      timeout: WAIT_MS,
    });
    if (c.stop === 'down') {
      assert.equal(down.status, 0, `iro down: ${down.stderr}\n${log()}`);
      if (daemon.exitCode === null) await once(daemon, 'exit');
      assert.equal(daemon.exitCode, 0, log());
    }
    assert.deepEqual(resolvers.state(), before, `the resolvers restored after ${c.stop}\n${down.stderr}\n${log()}`);
  } finally {
    if (daemon !== undefined && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
    await lab.cleanup();
    resolvers.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
