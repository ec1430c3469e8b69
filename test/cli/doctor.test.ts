/**
 * `iro doctor`, run as the real CLI inside a network namespace set up wrong on purpose: no
 * forwarding on a gateway, UDP 4500 held by a process named like strongSwan's charon, a key file
 * with mode 0644, and a path whose MTU is smaller than the configured one. Each problem is named
 * with its fix (human output and --json, exit 1); once fixed, the same checks pass (exit 0).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { loadConfig } from '../../src/config/index.js';
import type { Finding } from '../../src/ops/index.js';
import { innerMtu } from '../../src/cli/daemon/netsetup.js';
import { BUILD_DIR } from '../helpers/paths.js';
import { Lab, nsRun } from '../helpers/netns.js';
import { writeGateway, writeMobileNode } from '../ops/fixtures.js';

const MAIN = join(BUILD_DIR, 'src', 'cli', 'main.js');
const RUNNER = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(process.argv.slice(1));`;
const PATH_MTU = 1400;

interface Report {
  readonly code: number | null;
  readonly out: string;
  readonly findings: Finding[];
}

/** `iro doctor ARGS` inside `ns`; with --json the findings are parsed. */
function doctor(ns: string, ...args: string[]): Report {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', RUNNER, 'doctor', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.stderr, '', 'doctor writes its report to stdout');
  const findings = args.includes('--json') ? (JSON.parse(r.stdout) as { findings: Finding[] }).findings : [];
  return { code: r.status, out: r.stdout, findings };
}

function finding(report: Report, id: string): Finding {
  const f = report.findings.find((x) => x.id === id);
  assert.ok(f, `a ${id} finding in ${report.out}`);
  return f;
}

const skip = process.getuid?.() !== 0 && 'needs root to create network namespaces';

test('doctor names every problem of a broken gateway with its fix, and passes once they are fixed', { skip, timeout: 180_000 }, async () => {
  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), 'iro-doctor-test-'));
  let holder: ChildProcess | undefined;
  try {
    const ns = lab.netns('dr');
    const far = lab.netns('df');
    const { a, b } = lab.veth(ns, far);
    lab.address(ns, a, '203.0.113.2/24');
    lab.address(far, b, '203.0.113.1/24');
    nsRun(ns, 'ip', ['link', 'set', 'dev', a, 'mtu', String(PATH_MTU)]);
    nsRun(ns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0']);
    nsRun(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.forwarding=0']);

    // Another IPsec daemon on 4500: a process whose executable is called charon.
    const charon = join(dir, 'charon');
    symlinkSync(process.execPath, charon);
    holder = spawn('ip', ['netns', 'exec', ns, charon, '-e', "const s = require('node:dgram').createSocket('udp4'); s.bind(4500, () => console.log('bound'));"], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(holder.stdout!, 'data')) as [Buffer];
    assert.equal(line.toString().trim(), 'bound');

    const gw = writeGateway(dir, 'ha0', { keyInMode: 0o644 });
    const broken = doctor(ns, '--json', gw.config);
    assert.equal(broken.code, 1, broken.out);
    const failed = broken.findings.filter((f) => f.severity === 'fail').map((f) => f.id).sort();
    assert.deepEqual(failed, ['config', 'forwarding.ipv4', 'forwarding.ipv6', 'port']);

    const v4 = finding(broken, 'forwarding.ipv4');
    assert.match(v4.message, /net\.ipv4\.ip_forward = 0/);
    assert.equal(v4.fix, "sysctl -w net.ipv4.ip_forward=1 && echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-iro.conf");
    const port = finding(broken, 'port');
    assert.match(port.message, new RegExp(`UDP port 4500 is held by another IPsec daemon: strongSwan \\(charon\\), pid \\d+`));
    assert.match(port.fix!, /^systemctl disable --now strongswan-starter\.service \(or kill \d+\)/);
    const key = finding(broken, 'config');
    assert.match(key.message, new RegExp(`key file ${gw.keyIn} is readable by group or others \\(mode 0644\\)`));
    assert.equal(key.fix, `chmod 600 ${gw.keyIn}`);
    for (const id of ['tun', 'capabilities', 'clock']) assert.equal(finding(broken, id).severity, 'ok', id);

    const human = doctor(ns, gw.config);
    assert.equal(human.code, 1);
    assert.match(human.out, /^iro doctor: 4 problems, 0 warnings, 3 passed$/m);
    assert.match(human.out, /^FAIL port: UDP port 4500 is held by another IPsec daemon/m);
    assert.match(human.out, /^ {5}fix: sysctl -w net\.ipv4\.ip_forward=1/m);
    assert.match(human.out, new RegExp(`^ {5}fix: chmod 600 ${gw.keyIn}$`, 'm'));

    nsRun(ns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    nsRun(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
    holder.kill('SIGTERM');
    await once(holder, 'exit');
    holder = undefined;
    chmodSync(gw.keyIn, 0o600);
    const fixed = doctor(ns, '--json', gw.config);
    assert.equal(fixed.code, 0, fixed.out);
    assert.deepEqual(fixed.findings.filter((f) => f.severity !== 'ok'), []);

    // A mobile node whose configured MTU does not fit the path to its home agent.
    const mnPath = writeMobileNode(dir, 'mn0', '203.0.113.1:4500', 1500);
    const mtu = doctor(ns, '--json', mnPath);
    assert.equal(mtu.code, 1, mtu.out);
    const home = finding(mtu, 'mtu.home');
    const max = innerMtu(PATH_MTU, loadConfig(mnPath).peers[0]!, 4, 6);
    assert.match(home.message, new RegExp(`MTU = 1500, but the path to home \\(203\\.0\\.113\\.1, MTU ${PATH_MTU}\\) carries at most ${max} bytes`));
    assert.equal(home.fix, `set MTU = ${max} (or MTU = auto) in [Interface] of ${mnPath}`);
    const auto = doctor(ns, '--json', writeMobileNode(dir, 'mn1', '203.0.113.1:4500', 'auto'));
    assert.equal(finding(auto, 'mtu.home').severity, 'ok');
    assert.match(finding(auto, 'mtu.home').message, new RegExp(`MTU = auto gives ${max}`));
  } finally {
    holder?.kill('SIGKILL');
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
