/**
 * `DNS =` apply and restore (src/ops/dns.ts) against stand-ins for resolvectl and resolvconf
 * (fake-resolvers.ts): the warning when neither exists, the exact commands and the resolver
 * state while applied and after restore, a refusing resolver, and a crash repaired from the
 * restore journal by another process.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyDns, detectDnsManager, HostJournal, NO_DNS_FIX, resolvconfRecord } from '../../src/ops/index.js';
import { parseIp } from '../../src/util/addr.js';
import { BUILD_DIR } from '../helpers/paths.js';
import { FakeResolvers } from './fake-resolvers.js';
import { captureLogger } from './log-capture.js';

const SERVERS = ['192.0.2.53', '2001:db8::53'];
const servers = SERVERS.map((s) => parseIp(s)!);
/** resolved forgets a link that does not exist, so resolvectl tests use one that always does. */
const LINK = 'lo';

const fakes: FakeResolvers[] = [];
function fake(...args: ConstructorParameters<typeof FakeResolvers>): FakeResolvers {
  const f = new FakeResolvers(...args);
  fakes.push(f);
  return f;
}
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'iro-dns-test-'));
  dirs.push(d);
  return d;
}
test.after(() => {
  for (const f of fakes) f.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('neither resolvectl nor resolvconf: a warning with the fix, never a failure', () => {
  const r = fake('none');
  const log = captureLogger();
  assert.equal(detectDnsManager(r.env), 'none');
  const handle = applyDns('mn0', servers, log, { env: r.env });
  assert.equal(handle.manager, 'none');
  assert.equal(handle.applied, false);
  handle.restore();
  const warnings = log.records.filter((x) => x.level === 'warn');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!.msg, /neither systemd-resolved \(resolvectl\) nor resolvconf/);
  assert.equal(warnings[0]!.fields['fix'], NO_DNS_FIX);
  assert.deepEqual(warnings[0]!.fields['servers'], SERVERS);
});

test('no DNS key: nothing is run and nothing is said', () => {
  const r = fake('resolvectl');
  const log = captureLogger();
  const handle = applyDns('mn0', [], log, { env: r.env });
  assert.equal(handle.applied, false);
  assert.deepEqual(r.calls(), []);
  assert.deepEqual(log.records, []);
});

test('systemd-resolved: per-link servers and the ~. routing domain, reverted on restore', () => {
  const r = fake('resolvectl');
  const log = captureLogger();
  const before = r.state();
  const handle = applyDns(LINK, servers, log, { env: r.env });
  assert.equal(handle.manager, 'resolvectl');
  assert.equal(handle.applied, true);
  assert.deepEqual(r.calls(), ['resolvectl status', `resolvectl dns ${LINK} ${SERVERS.join(' ')}`, `resolvectl domain ${LINK} ~.`]);
  assert.deepEqual(r.state(), r.expectedWhileUp(LINK, SERVERS));
  handle.restore();
  assert.equal(handle.applied, false);
  assert.equal(r.calls().at(-1), `resolvectl revert ${LINK}`);
  assert.deepEqual(r.state(), before);
  handle.restore();
  assert.equal(r.calls().length, 4, 'a second restore runs nothing');
});

test('resolvconf: a record with nameserver lines, deleted on restore', () => {
  const r = fake('resolvconf');
  const log = captureLogger();
  const order = join(tempDir(), 'no-interface-order');
  const handle = applyDns('mn0', servers, log, { env: r.env, interfaceOrderFile: order });
  assert.equal(handle.manager, 'resolvconf');
  assert.deepEqual(r.calls(), ['resolvconf -a mn0 -m 0 -x']);
  assert.deepEqual(r.state(), r.expectedWhileUp('mn0', SERVERS));
  handle.restore();
  assert.deepEqual(r.calls(), ['resolvconf -a mn0 -m 0 -x', 'resolvconf -d mn0 -f']);
  assert.deepEqual(r.state(), {});
});

test("resolvconf record name follows Debian's interface-order like wg-quick", () => {
  const dir = tempDir();
  const debian = join(dir, 'interface-order');
  writeFileSync(debian, '# interface-order(5)\nlo.inet6\nlo.inet\nlo.@(dnsmasq|pdnsd)\nlo\ntun*\ntap*\nhso*\n*\n');
  assert.equal(resolvconfRecord('mn0', debian), 'tun.mn0');
  assert.equal(resolvconfRecord('mn0', join(dir, 'missing')), 'mn0');
  const r = fake('resolvconf');
  const handle = applyDns('mn0', servers, captureLogger(), { env: r.env, interfaceOrderFile: debian });
  assert.deepEqual(Object.keys(r.state()), ['resolvconf/tun.mn0']);
  handle.restore();
  assert.deepEqual(r.state(), {});
});

test('a resolver that refuses: a warning naming the error, the attempt rolled back, the journal empty', () => {
  const r = fake('resolvectl', { failVerb: 'domain' });
  const dir = tempDir();
  const log = captureLogger();
  const journal = HostJournal.open(dir, LINK, log, { env: r.env });
  const handle = applyDns(LINK, servers, log, { env: r.env, journal });
  assert.equal(handle.applied, false);
  const warning = log.records.find((x) => x.level === 'warn');
  assert.ok(warning, 'a warning');
  assert.match(String(warning.fields['error']), /Access denied/);
  assert.equal(r.calls().at(-1), `resolvectl revert ${LINK}`);
  assert.deepEqual(r.state(), {});
  assert.equal(existsSync(journal.path), false);
});

test('the journal holds the change while it is in force, and not after restore', () => {
  const r = fake('resolvconf');
  const dir = tempDir();
  const log = captureLogger();
  const journal = HostJournal.open(dir, 'mn0', log, { env: r.env });
  const handle = applyDns('mn0', servers, log, { env: r.env, journal, interfaceOrderFile: join(dir, 'none') });
  const recorded = JSON.parse(readFileSync(journal.path, 'utf8')) as { entries: unknown[]; pid: number };
  assert.deepEqual(recorded.entries, [{ kind: 'resolvconf', record: 'mn0' }]);
  assert.equal(recorded.pid, process.pid);
  handle.restore();
  assert.equal(existsSync(journal.path), false);
});

test('a daemon killed with DNS applied: the next start restores the resolvers from the journal', () => {
  const r = fake('resolvconf');
  const dir = tempDir();
  const ops = join(BUILD_DIR, 'src', 'ops', 'index.js');
  const addr = join(BUILD_DIR, 'src', 'util', 'addr.js');
  const script = `
    const { applyDns, HostJournal } = await import(${JSON.stringify(ops)});
    const { parseIp } = await import(${JSON.stringify(addr)});
    const { silentLogger } = await import(${JSON.stringify(join(BUILD_DIR, 'src', 'util', 'log.js'))});
    const journal = HostJournal.open(${JSON.stringify(dir)}, 'mn0', silentLogger);
    applyDns('mn0', ${JSON.stringify(SERVERS)}.map(parseIp), silentLogger, { journal, interfaceOrderFile: '/nonexistent' });
    process.kill(process.pid, 'SIGKILL');
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: r.env, encoding: 'utf8', timeout: 30_000 });
  assert.equal(child.signal, 'SIGKILL', child.stderr);
  assert.deepEqual(r.state(), r.expectedWhileUp('mn0', SERVERS), 'the killed daemon left its resolvers behind');

  const log = captureLogger();
  const undone = HostJournal.open(dir, 'mn0', log, { env: r.env }).recover();
  assert.equal(undone, 1);
  assert.deepEqual(r.state(), {});
  assert.equal(r.calls().at(-1), 'resolvconf -d mn0 -f');
  assert.equal(existsSync(join(dir, 'mn0.restore.json')), false);
});
