/**
 * parseConfig on strings: valid configs and their defaults, repeated sections, case and
 * comments, and one test per class of error, each checked by file, line and field.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { parseConfig, noKeyFiles, Keymat, type KeyFileReader } from '../../src/config/index.js';
import { formatIp, formatPrefix } from '../../src/util/addr.js';
import { toHex } from '../../src/util/bytes.js';
import {
  CN_PEER,
  KEY_CN_MN,
  KEY_HA_MN,
  KEY_MN_CN,
  KEY_MN_HA,
  assertIssue,
  haConfig,
  hexKey,
  issuesOf,
  lineOf,
  mnConfig,
  setKey,
} from './fixtures.js';

const F = 'mn0.conf';
const parse = (text: string, reader: KeyFileReader = noKeyFiles) => parseConfig(text, F, reader);

test('a minimal mobile-node config gets the documented defaults', () => {
  const c = parse(mnConfig());
  assert.equal(c.interfaceName, 'mn0');
  assert.equal(c.interface.role, 'mobile-node');
  assert.deepEqual(c.interface.homeAddresses.map(formatPrefix), ['2001:db8:100::10/128', '198.51.100.10/32']);
  assert.equal(c.interface.mtu, 'auto');
  assert.equal(c.interface.careOf, 'auto');
  assert.equal(c.interface.listenPort, 4500);
  assert.equal(formatIp(c.interface.metrics!.address), '127.0.0.1');
  assert.equal(c.interface.metrics!.port, 9469);
  assert.equal(c.interface.stateDir, '/var/lib/iro');
  assert.equal(c.interface.backend, 'native');
  assert.equal(c.interface.workers, 'auto');
  assert.equal(c.interface.batchSize, 128);
  assert.equal(c.interface.logLevel, 'info');
  assert.equal(c.interface.coTestType, 11);
  assert.equal(c.peers.length, 1);
  const p = c.peers[0]!;
  assert.equal(p.name, 'home');
  assert.equal(p.role, 'home-agent');
  assert.deepEqual(p.identities.map(formatIp), ['2001:db8:100::1']);
  assert.deepEqual({ host: p.endpoint!.host, port: p.endpoint!.port, addr: formatIp(p.endpoint!.address!) }, { host: '203.0.113.130', port: 4500, addr: '203.0.113.130' });
  assert.equal(p.encapsulation, 'udp');
  assert.equal(p.mode, 'tunnel');
  assert.deepEqual(p.allowedIPs.map(formatPrefix), ['2001:db8:100::1/128']);
  assert.equal(p.cipher, 'aes128gcm16');
  assert.equal(p.sa.out.spi, 0x1001);
  assert.equal(p.sa.in.spi, 0x2001);
  assert.equal(toHex(p.sa.out.keymat.bytes), KEY_MN_HA);
  assert.equal(toHex(p.sa.in.keymat.bytes), KEY_HA_MN);
  assert.equal(p.sa.out.keymat.key.length, 16);
  assert.equal(p.sa.out.keymat.salt.length, 4);
  assert.equal(p.signalSa!.out.spi, 0x1002);
  assert.equal(p.signalSa!.in.spi, 0x2002);
  assert.equal(p.esn, true);
  assert.equal(p.replayWindow, 1024);
  assert.equal(p.nat, 'deny');
  assert.equal(p.routeOptimization, false);
  assert.equal(p.persistentKeepalive, null);
  assert.equal(p.lifetime, null);
  assert.equal(p.bindingLifetime, 3600);
  assert.equal(c.hasInlineKeys, true);
});

test('every repeated [Peer] section is kept, in file order', () => {
  const text = haConfig() + ['mn1', 'mn2'].map((name, i) => `
[Peer]
Name = ${name}
HomeAddress = 2001:db8:100::${0x11 + i}
SPIOut = ${0x5000 + i * 16}
SPIIn = ${0x6000 + i * 16}
KeyOut = ${hexKey(0x50 + i)}
KeyIn = ${hexKey(0x60 + i)}
`).join('');
  const c = parseConfig(text, 'ha0.conf', noKeyFiles);
  assert.deepEqual(c.peers.map((p) => p.name), ['laptop', 'mn1', 'mn2']);
  assert.deepEqual(c.peers.map((p) => p.line), [lineOf(text, '[Peer]'), lineOf(text, 'Name = mn1') - 1, lineOf(text, 'Name = mn2') - 1]);
  assert.deepEqual(c.peers.map((p) => p.sa.in.spi), [0x1001, 0x6000, 0x6010]);
  // A home agent's peers default to Role = mobile-node and Mode = tunnel.
  assert.ok(c.peers.every((p) => p.role === 'mobile-node' && p.mode === 'tunnel'));
});

test('keys, section names and enum values are case-insensitive; # and ; comments anywhere', () => {
  const text = `# leading comment
; another
[interface]   # trailing comment on a header
ROLE = Mobile-Node ; trailing
homeaddress = 2001:db8:100::10/128#no space before the comment

[PEER]
name = home
role = HOME-AGENT
identity = 2001:db8:100::1
endpoint = 203.0.113.130
cipher = AES256GCM16
spiout = 0x1001
SpIiN = 4097
keyout = ${hexKey(1, 36)}
KEYIN = 0x${hexKey(2, 36)}
esn = NO
`;
  const c = parse(text.replace('SpIiN = 4097', 'SpIiN = 8193'));
  assert.equal(c.interface.role, 'mobile-node');
  assert.deepEqual(c.interface.homeAddresses.map(formatPrefix), ['2001:db8:100::10/128']);
  const p = c.peers[0]!;
  assert.equal(p.role, 'home-agent');
  assert.equal(p.cipher, 'aes256gcm16');
  assert.equal(p.endpoint!.port, 4500);
  assert.equal(p.sa.in.spi, 8193);
  assert.equal(p.sa.out.keymat.bytes.length, 36);
  assert.equal(p.esn, false);
});

test('CRLF line endings and a UTF-8 BOM are accepted', () => {
  const c = parse('\ufeff' + mnConfig().replace(/\n/g, '\r\n'));
  assert.equal(c.peers[0]!.name, 'home');
});

test('list keys accept comma lists and may repeat; the items accumulate', () => {
  const c = parse(mnConfig('', 'AllowedIPs = 2001:db8:300::/48, 192.0.2.0/24\nAllowedIPs = ::/0'));
  assert.deepEqual(c.peers[0]!.allowedIPs.map(formatPrefix), ['2001:db8:300::/48', '192.0.2.0/24', '::/0']);
});

test('mode and binding lifetime defaults depend on the pair of roles', () => {
  const c = parse(mnConfig() + CN_PEER);
  const cn = c.peers[1]!;
  assert.equal(cn.mode, 'transport');
  assert.equal(cn.signalSa, null);
  assert.equal(cn.bindingLifetime, 420);
  assert.equal(cn.endpoint!.host, '2001:db8:200::1');
  const ha = parseConfig(haConfig(), 'ha0.conf', noKeyFiles).peers[0]!;
  assert.equal(ha.mode, 'tunnel');
  assert.equal(ha.bindingLifetime, 3600);
  assert.equal(ha.endpoint, null);
});

test('optional values parse to their typed form', () => {
  const c = parse(
    mnConfig(
      'MTU = 1400\nCareOf = wlan0, wwan0\nListenPort = 14500\nMetrics = [::1]:9100\nStateDir = /tmp/iro-state\nBackend = native-free\nWorkers = 0\nBatchSize = 256\nLogLevel = debug\nDNS = 2001:db8::53, 192.0.2.53\nCoTestType = 200',
      'PersistentKeepalive = 20\nLifetime = 1h\nBindingLifetime = 30m\nReplayWindow = 64\nSignalSPIOut = 0x7001\nSignalSPIIn = 0x8001',
    ),
  );
  const i = c.interface;
  assert.equal(i.mtu, 1400);
  assert.deepEqual(i.careOf, ['wlan0', 'wwan0']);
  assert.equal(i.listenPort, 14500);
  assert.deepEqual([formatIp(i.metrics!.address), i.metrics!.port], ['::1', 9100]);
  assert.equal(i.stateDir, '/tmp/iro-state');
  assert.equal(i.backend, 'native-free');
  assert.equal(i.workers, 0);
  assert.equal(i.batchSize, 256);
  assert.equal(i.logLevel, 'debug');
  assert.deepEqual(i.dns.map(formatIp), ['2001:db8::53', '192.0.2.53']);
  assert.equal(i.coTestType, 200);
  const p = c.peers[0]!;
  assert.equal(p.persistentKeepalive, 20);
  assert.deepEqual(p.lifetime, { hardSeconds: 3600, softSeconds: 3240 });
  assert.equal(p.bindingLifetime, 1800);
  assert.equal(p.replayWindow, 64);
  assert.equal(p.signalSa!.out.spi, 0x7001);
  assert.equal(p.signalSa!.in.spi, 0x8001);
  assert.equal(parse(mnConfig('Metrics = off')).interface.metrics, null);
});

test('signalling keys are derived, mirrored between the two ends, and differ from the data keys', () => {
  const mn = parse(mnConfig()).peers[0]!;
  const ha = parseConfig(haConfig(), 'ha0.conf', noKeyFiles).peers[0]!;
  assert.ok(mn.signalSa!.out.keymat.equals(ha.signalSa!.in.keymat));
  assert.ok(mn.signalSa!.in.keymat.equals(ha.signalSa!.out.keymat));
  assert.equal(mn.signalSa!.out.spi, ha.signalSa!.in.spi);
  assert.ok(!mn.signalSa!.out.keymat.equals(mn.sa.out.keymat));
  assert.ok(!mn.signalSa!.out.keymat.equals(mn.signalSa!.in.keymat));
  const explicit = parse(mnConfig('', `SignalKeyOut = ${hexKey(0x55)}\nSignalKeyIn = ${hexKey(0x66)}`)).peers[0]!;
  assert.equal(toHex(explicit.signalSa!.out.keymat.bytes), hexKey(0x55));
});

test('key material never reaches JSON, inspect or string conversion', () => {
  const c = parse(mnConfig() + CN_PEER);
  const texts = [JSON.stringify(c), inspect(c, { depth: 10 }), String(c.peers[0]!.sa.out.keymat), `${c.peers[0]!.sa.in.keymat}`];
  for (const t of texts) {
    for (const k of [KEY_MN_HA, KEY_HA_MN, KEY_MN_CN, KEY_CN_MN]) assert.ok(!t.includes(k), 'a key leaked');
    assert.ok(t.includes('[redacted]'));
  }
  assert.ok(c.peers[0]!.sa.out.keymat instanceof Keymat);
});

// ---------------------------------------------------------------------------------------------
// One test per class of error: file, line and field are checked, not the prose.

test('syntax: a line that is neither a header nor Key = Value', () => {
  const text = mnConfig('this is not a key');
  assertIssue(issuesOf(() => parse(text)), { file: F, line: lineOf(text, 'this is not'), field: 'Interface' });
});

test('syntax: malformed header, key before any section, invalid key name', () => {
  const text = 'Role = mobile-node\n' + mnConfig('', '[Peer\n9key = 1');
  const issues = issuesOf(() => parse(text));
  assertIssue(issues, { line: 1, field: '(file)' });
  assertIssue(issues, { line: lineOf(text, '[Peer', lineOf(text, 'KeyIn')), field: 'Peer' });
  // Entries under a malformed header are skipped, not reported one by one.
  assert.equal(issues.filter((i) => i.line === lineOf(text, '9key')).length, 0);
});

test('unknown section, with a suggestion', () => {
  const text = mnConfig() + '\n[Peers]\nName = x\n';
  const issue = assertIssue(issuesOf(() => parse(text)), { line: lineOf(text, '[Peers]'), field: 'Peers' });
  assert.match(issue.message, /did you mean \[Peer\]\?/);
});

test('unknown key, with a suggestion or the section it belongs in', () => {
  const text = mnConfig('Endpoint = 203.0.113.1', 'Endpiont = 203.0.113.1\nFrobnicate = 1');
  const issues = issuesOf(() => parse(text));
  assert.match(assertIssue(issues, { line: lineOf(text, 'Endpiont'), field: 'Peer.Endpiont' }).message, /did you mean Endpoint\?/);
  assert.match(assertIssue(issues, { line: lineOf(text, 'Endpoint = 203.0.113.1'), field: 'Interface.Endpoint' }).message, /\[Peer\]/);
  assertIssue(issues, { line: lineOf(text, 'Frobnicate'), field: 'Peer.Frobnicate' });
});

test('missing required keys and sections', () => {
  const text = mnConfig().replace(/^SPIIn = .*$/m, '').replace(/^Name = .*$/m, '');
  const issues = issuesOf(() => parse(text));
  const header = lineOf(text, '[Peer]');
  assertIssue(issues, { line: header, field: 'Peer.SPIIn' });
  assertIssue(issues, { line: header, field: 'Peer.Name' });
  assertIssue(issuesOf(() => parse('[Peer]\nName = x\n')), { line: 0, field: 'Interface' });
  assertIssue(issuesOf(() => parse('[Interface]\nRole = mobile-node\nHomeAddress = 2001:db8:100::10\n')), { line: 1, field: 'Peer' });
  const noRole = '[Interface]\nHomeAddress = 2001:db8:100::10\n';
  assertIssue(issuesOf(() => parse(noRole)), { line: 1, field: 'Interface.Role' });
});

test('duplicate single-valued key and duplicate [Interface]', () => {
  const text = mnConfig('Role = home-agent') + '\n[Interface]\nRole = mobile-node\n';
  const issues = issuesOf(() => parse(text));
  assertIssue(issues, { line: lineOf(text, 'Role = home-agent'), field: 'Interface.Role' });
  assertIssue(issues, { line: lineOf(text, '[Interface]', 2), field: 'Interface' });
});

test('empty value is an error, not a silent default', () => {
  const text = mnConfig('MTU =');
  assertIssue(issuesOf(() => parse(text)), { line: lineOf(text, 'MTU ='), field: 'Interface.MTU' });
});

/** [section, line to add, field] for each value type's bad value. */
const BAD_VALUES: [('Interface' | 'Peer'), string, string][] = [
  ['Interface', 'Role = mobile', 'Interface.Role'],
  ['Interface', 'MTU = 100000', 'Interface.MTU'],
  ['Interface', 'MTU = 1000', 'Interface.MTU'], // below 1280 with IPv6 home addresses
  ['Interface', 'CareOf = auto, wlan0', 'Interface.CareOf'],
  ['Interface', 'CareOf = this-name-is-too-long', 'Interface.CareOf'],
  ['Interface', 'ListenPort = 70000', 'Interface.ListenPort'],
  ['Interface', 'ListenPort = 45x', 'Interface.ListenPort'],
  ['Interface', 'Metrics = localhost:9469', 'Interface.Metrics'],
  ['Interface', 'Metrics = 127.0.0.1:0', 'Interface.Metrics'],
  ['Interface', 'StateDir = var/lib/iro', 'Interface.StateDir'],
  ['Interface', 'Backend = kernel', 'Interface.Backend'],
  ['Interface', 'Workers = 65', 'Interface.Workers'],
  ['Interface', 'BatchSize = 0', 'Interface.BatchSize'],
  ['Interface', 'LogLevel = verbose', 'Interface.LogLevel'],
  ['Interface', 'DNS = 2001:db8::53/64', 'Interface.DNS'],
  ['Interface', 'CoTestType = 5', 'Interface.CoTestType'],
  ['Interface', 'CoTestType = 256', 'Interface.CoTestType'],
  ['Interface', 'HomeAddress = 2001:db8:100::zz', 'Interface.HomeAddress'],
  ['Interface', 'HomeAddress = 2001:db8:100::10,', 'Interface.HomeAddress'],
  ['Peer', 'Endpoint = 2001:db8::1:4500', 'Peer.Endpoint'],
  ['Peer', 'Encapsulation = tcp', 'Peer.Encapsulation'],
  ['Peer', 'Mode = beet', 'Peer.Mode'],
  ['Peer', 'AllowedIPs = 2001:db8::1/64', 'Peer.AllowedIPs'],
  ['Peer', 'AllowedIPs = 10.0.0.0/33', 'Peer.AllowedIPs'],
  ['Peer', 'Cipher = aes128cbc', 'Peer.Cipher'],
  ['Peer', 'ESN = maybe', 'Peer.ESN'],
  ['Peer', 'ReplayWindow = 1000', 'Peer.ReplayWindow'],
  ['Peer', 'ReplayWindow = 8192', 'Peer.ReplayWindow'],
  ['Peer', 'PersistentKeepalive = 0', 'Peer.PersistentKeepalive'],
  ['Peer', 'Lifetime = 1 week', 'Peer.Lifetime'],
  ['Peer', 'Lifetime = 10s', 'Peer.Lifetime'],
  ['Peer', 'BindingLifetime = 0', 'Peer.BindingLifetime'],
  ['Peer', 'SignalSPIOut = 12', 'Peer.SignalSPIOut'],
];

for (const [section, line, field] of BAD_VALUES) {
  test(`bad value: ${line}`, () => {
    const text = setKey(mnConfig(), section, line);
    assertIssue(issuesOf(() => parse(text)), { file: F, line: lineOf(text, line), field });
  });
}

test('bad peer Name and duplicate peer Names', () => {
  const text = mnConfig() + CN_PEER.replace('Name = cn', 'Name = home') + CN_PEER.replace('Name = cn', 'Name = bad name!').replace(/0x3001/, '0x9001').replace(/0x4001/, '0xa001');
  const issues = issuesOf(() => parse(text));
  assertIssue(issues, { line: lineOf(text, 'Name = home', lineOf(text, 'KeyIn')), field: 'Peer.Name' });
  assertIssue(issues, { line: lineOf(text, 'Name = bad name!'), field: 'Peer.Name' });
});

test('SPIs: reserved range, too large, not a number', () => {
  for (const [value, ok] of [['0', false], ['255', false], ['0xff', false], ['0x100', true], ['256', true], ['0xffffffff', false], ['0x1ffffffff', false], ['4294967296', false], ['12abc', false]] as const) {
    // 0xffffffff itself is valid as an SPI but SignalSPIOut = SPIOut+1 overflows: still an SPIOut-line issue.
    const text = mnConfig().replace('SPIOut = 0x1001', `SPIOut = ${value}`);
    if (ok) {
      assert.equal(parse(text).peers[0]!.sa.out.spi, Number(value));
    } else {
      const issues = issuesOf(() => parse(text));
      assert.ok(issues.some((i) => i.line === lineOf(text, 'SPIOut =') && i.field.startsWith('Peer.') && i.field.includes('SPIOut')), value);
    }
  }
  const reserved = issuesOf(() => parse(mnConfig().replace('SPIIn = 0x2001', 'SPIIn = 7')));
  assert.match(assertIssue(reserved, { field: 'Peer.SPIIn' }).message, /RFC 4303 §2\.1/);
});

test('SPIs: duplicate inbound SPI across peers, and a defaulted signalling SPI that collides', () => {
  const text = haConfig() + `
[Peer]
Name = second
HomeAddress = 2001:db8:100::20
SPIOut = 0x7000
SPIIn = 0x1001
KeyOut = ${hexKey(0x77)}
KeyIn = ${hexKey(0x78)}
`;
  const issues = issuesOf(() => parseConfig(text, 'ha0.conf', noKeyFiles));
  assertIssue(issues, { file: 'ha0.conf', line: lineOf(text, 'SPIIn = 0x1001', lineOf(text, 'Name = second')), field: 'Peer.SPIIn' });
  // SPIIn 0x2001 with SPIOut 0x2000 -> SignalSPIOut defaults to 0x2001 = SPIIn.
  const own = mnConfig().replace('SPIOut = 0x1001', 'SPIOut = 0x2000');
  assertIssue(issuesOf(() => parse(own)), { line: lineOf(own, 'SPIOut ='), field: 'Peer.SignalSPIOut' });
  const same = mnConfig().replace('SPIOut = 0x1001', 'SPIOut = 0x2001');
  assertIssue(issuesOf(() => parse(same)), { line: lineOf(same, 'SPIIn ='), field: 'Peer.SPIIn' });
});

test('keys: wrong length, not hex, shared between SAs; never echoed', () => {
  const text = mnConfig().replace(`KeyOut = ${KEY_MN_HA}`, `KeyOut = ${hexKey(0x11, 16)}`).replace(`KeyIn = ${KEY_HA_MN}`, 'KeyIn = nothex');
  const issues = issuesOf(() => parse(text));
  assertIssue(issues, { line: lineOf(text, 'KeyOut'), field: 'Peer.KeyOut' });
  assertIssue(issues, { line: lineOf(text, 'KeyIn'), field: 'Peer.KeyIn' });
  const shared = mnConfig().replace(`KeyIn = ${KEY_HA_MN}`, `KeyIn = ${KEY_MN_HA}`);
  assertIssue(issuesOf(() => parse(shared)), { line: lineOf(shared, 'KeyIn'), field: 'Peer.KeyIn' });
  const acrossPeers = mnConfig() + CN_PEER.replace(`KeyIn = ${KEY_CN_MN}`, `KeyIn = ${KEY_MN_HA}`);
  assertIssue(issuesOf(() => parse(acrossPeers)), { line: lineOf(acrossPeers, `KeyIn = ${KEY_MN_HA}`), field: 'Peer.KeyIn' });
  // A key pasted into the wrong field is not echoed either.
  const misplaced = mnConfig('', `Endpoint2 = ${KEY_CN_MN}\nNAT = ${KEY_CN_MN}\nSignalKeyIn ${KEY_CN_MN}\n${KEY_CN_MN} = 1`).replace('SPIOut = 0x1001', `SPIOut = ${KEY_CN_MN}`);
  const all = [...issues, ...issuesOf(() => parse(misplaced))];
  for (const i of all) for (const k of [KEY_MN_HA, KEY_HA_MN, KEY_CN_MN, hexKey(0x11, 16)]) assert.ok(!i.message.includes(k), `key in: ${i.message}`);
});

test('keys: chacha20poly1305 and aes256gcm16 need 36 bytes, aes192gcm16 28', () => {
  for (const [cipher, bytes] of [['chacha20poly1305', 36], ['aes256gcm16', 36], ['aes192gcm16', 28]] as const) {
    const text = mnConfig('', `Cipher = ${cipher}`);
    const issues = issuesOf(() => parse(text));
    assertIssue(issues, { line: lineOf(text, 'KeyOut'), field: 'Peer.KeyOut' });
    const good = text.replace(KEY_MN_HA, hexKey(0x11, bytes)).replace(KEY_HA_MN, hexKey(0x22, bytes));
    assert.equal(parse(good).peers[0]!.sa.in.keymat.bytes.length, bytes);
  }
});

test('key files go through the reader; its problems are reported on the key line', () => {
  const files: Record<string, string> = { '/k/out': KEY_MN_HA + '\n', '/k/short': '0011\n', '/k/garbage': 'not hex at all' };
  const reader: KeyFileReader = (p) => (p in files ? { ok: true, value: files[p]! } : { ok: false, message: `key file ${p} does not exist` });
  const good = mnConfig().replace(`KeyOut = ${KEY_MN_HA}`, 'KeyOut = file:/k/out');
  const c = parse(good, reader);
  assert.equal(toHex(c.peers[0]!.sa.out.keymat.bytes), KEY_MN_HA);
  assert.equal(c.hasInlineKeys, true); // KeyIn is still inline
  for (const path of ['/k/short', '/k/garbage', '/k/missing']) {
    const text = mnConfig().replace(`KeyOut = ${KEY_MN_HA}`, `KeyOut = file:${path}`);
    const issue = assertIssue(issuesOf(() => parse(text, reader)), { line: lineOf(text, 'KeyOut'), field: 'Peer.KeyOut' });
    assert.ok(issue.message.includes(path));
  }
  const throwing: KeyFileReader = () => {
    throw Object.assign(new Error('boom'), { code: 'EIO' });
  };
  const text = mnConfig().replace(`KeyOut = ${KEY_MN_HA}`, 'KeyOut = file:/k/out');
  assertIssue(issuesOf(() => parse(text, throwing)), { line: lineOf(text, 'KeyOut'), field: 'Peer.KeyOut' });
});

test('roles: a mobile node needs exactly one home agent', () => {
  const none = mnConfig().replace('Role = home-agent', 'Role = correspondent');
  assertIssue(issuesOf(() => parse(none)), { line: 1, field: 'Peer.Role' });
  const two = mnConfig() + CN_PEER.replace('Role = correspondent', 'Role = home-agent');
  assertIssue(issuesOf(() => parse(two)), { line: lineOf(two, 'Role = home-agent', lineOf(two, 'Name = cn')), field: 'Peer.Role' });
  const missingRole = mnConfig().replace('Role = home-agent\n', '');
  assertIssue(issuesOf(() => parse(missingRole)), { line: lineOf(missingRole, '[Peer]'), field: 'Peer.Role' });
});

test('roles: a home agent serves mobile nodes in its home prefix; role-specific interface keys', () => {
  const outside = haConfig().replace('HomeAddress = 2001:db8:100::10, 198.51.100.10', 'HomeAddress = 2001:db8:999::10');
  assertIssue(issuesOf(() => parseConfig(outside, 'ha0.conf', noKeyFiles)), { line: lineOf(outside, 'HomeAddress = 2001:db8:999'), field: 'Peer.HomeAddress' });
  const cnPeer = haConfig('', 'Role = correspondent\nEndpoint = 203.0.113.9');
  const issues = issuesOf(() => parseConfig(cnPeer, 'ha0.conf', noKeyFiles));
  assertIssue(issues, { line: lineOf(cnPeer, 'Role = correspondent'), field: 'Peer.Role' });
  const swapped = haConfig('HomeAddress = 2001:db8:100::1\nCareOf = wlan0').replace(/^HomePrefix = .*$/m, '');
  const si = issuesOf(() => parseConfig(swapped, 'ha0.conf', noKeyFiles));
  assertIssue(si, { line: lineOf(swapped, 'HomeAddress = 2001:db8:100::1'), field: 'Interface.HomeAddress' });
  assertIssue(si, { line: lineOf(swapped, 'CareOf'), field: 'Interface.CareOf' });
  assertIssue(si, { line: 1, field: 'Interface.HomePrefix' });
  const mnWithAddress = mnConfig('Address = 2001:db8:100::99');
  assertIssue(issuesOf(() => parse(mnWithAddress)), { line: lineOf(mnWithAddress, '::99'), field: 'Interface.Address' });
});

test('roles: keys that do not apply to a pair of roles are errors', () => {
  const text = mnConfig('', 'NAT = allow\nRouteOptimization = on\nHomeAddress = 2001:db8:100::1');
  const issues = issuesOf(() => parse(text));
  assertIssue(issues, { line: lineOf(text, 'NAT ='), field: 'Peer.NAT' });
  assertIssue(issues, { line: lineOf(text, 'RouteOptimization'), field: 'Peer.RouteOptimization' });
  assertIssue(issues, { line: lineOf(text, 'Identity'), field: 'Peer.Identity' });
  const tunnelRo = mnConfig() + CN_PEER + 'Mode = tunnel\nRouteOptimization = on\n';
  assertIssue(issuesOf(() => parse(tunnelRo)), { line: lineOf(tunnelRo, 'RouteOptimization'), field: 'Peer.RouteOptimization' });
  const transportSignal = mnConfig() + CN_PEER + 'SignalSPIOut = 0x9999\n';
  assertIssue(issuesOf(() => parse(transportSignal)), { line: lineOf(transportSignal, 'SignalSPIOut'), field: 'Peer.SignalSPIOut' });
  const transportWide = mnConfig() + CN_PEER + 'AllowedIPs = 2001:db8:200::/48\n';
  assertIssue(issuesOf(() => parse(transportWide)), { line: lineOf(transportWide, 'AllowedIPs'), field: 'Peer.AllowedIPs' });
  const espKeepalive = mnConfig('', 'Encapsulation = esp\nPersistentKeepalive = 20');
  assertIssue(issuesOf(() => parse(espKeepalive)), { line: lineOf(espKeepalive, 'PersistentKeepalive'), field: 'Peer.PersistentKeepalive' });
  const cnLong = mnConfig() + CN_PEER + 'BindingLifetime = 421\n';
  assertIssue(issuesOf(() => parse(cnLong)), { line: lineOf(cnLong, 'BindingLifetime'), field: 'Peer.BindingLifetime' });
  const noEndpoint = mnConfig().replace(/^Endpoint = .*$/m, '');
  assertIssue(issuesOf(() => parse(noEndpoint)), { line: lineOf(noEndpoint, '[Peer]'), field: 'Peer.Endpoint' });
});

test('every problem is reported at once, sorted by line', () => {
  const text = mnConfig('ListenPort = 0', 'Cipher = des\nESN = perhaps').replace('SPIIn = 0x2001', 'SPIIn = 1');
  const issues = issuesOf(() => parse(text));
  assert.deepEqual(
    issues.map((i) => [i.line, i.field]),
    [
      [lineOf(text, 'ListenPort'), 'Interface.ListenPort'],
      [lineOf(text, 'SPIIn'), 'Peer.SPIIn'],
      [lineOf(text, 'Cipher'), 'Peer.Cipher'],
      [lineOf(text, 'ESN'), 'Peer.ESN'],
    ],
  );
});

test('the file name gives the interface name and must be a valid one', () => {
  assert.equal(parseConfig(mnConfig(), '/etc/iro/laptop.conf', noKeyFiles).interfaceName, 'laptop');
  assertIssue(issuesOf(() => parseConfig(mnConfig(), '/etc/iro/a-much-too-long-name.conf', noKeyFiles)), { line: 0, field: '(file)', file: '/etc/iro/a-much-too-long-name.conf' });
});

test('raw ESP under the native-free back-end is refused at the Encapsulation line', () => {
  const text = mnConfig('Backend = native-free', 'Encapsulation = esp');
  const issues = issuesOf(() => parseConfig(text, 'mn0.conf', noKeyFiles));
  assertIssue(issues, { file: 'mn0.conf', field: 'Peer.Encapsulation', line: lineOf(text, 'Encapsulation = esp') });
  assert.doesNotThrow(() => parseConfig(mnConfig('Backend = native', 'Encapsulation = esp'), 'mn0.conf', noKeyFiles));
});
