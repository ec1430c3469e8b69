/**
 * Config texts and assertions shared by the config and CLI tests. Keys here are test patterns
 * (byte n repeated), addresses documentation ranges only.
 */
import assert from 'node:assert/strict';
import { ConfigError, type ConfigIssue } from '../../src/util/errors.js';

/** 20-byte aes128gcm16 KEYMAT of byte `n` repeated, in hex. */
export function hexKey(n: number, bytes = 20): string {
  return n.toString(16).padStart(2, '0').repeat(bytes);
}

export const KEY_MN_HA = hexKey(0x11);
export const KEY_HA_MN = hexKey(0x22);
export const KEY_MN_CN = hexKey(0x33);
export const KEY_CN_MN = hexKey(0x44);

/** A minimal valid mobile-node config; `peerExtra` is appended to its home-agent [Peer]. */
export function mnConfig(interfaceExtra = '', peerExtra = ''): string {
  return `[Interface]
Role = mobile-node
HomeAddress = 2001:db8:100::10/128, 198.51.100.10/32
${interfaceExtra}
[Peer]
Name = home
Role = home-agent
Identity = 2001:db8:100::1
Endpoint = 203.0.113.130:4500
SPIOut = 0x1001
SPIIn = 0x2001
KeyOut = ${KEY_MN_HA}
KeyIn = ${KEY_HA_MN}
${peerExtra}`;
}

/** The home agent matching mnConfig(). */
export function haConfig(interfaceExtra = '', peerExtra = ''): string {
  return `[Interface]
Role = home-agent
Address = 2001:db8:100::1/128
HomePrefix = 2001:db8:100::/64, 198.51.100.0/24
${interfaceExtra}
[Peer]
Name = laptop
HomeAddress = 2001:db8:100::10, 198.51.100.10
SPIOut = 0x2001
SPIIn = 0x1001
KeyOut = ${KEY_HA_MN}
KeyIn = ${KEY_MN_HA}
${peerExtra}`;
}

/** A correspondent [Peer] section for a mobile-node config. */
export const CN_PEER = `
[Peer]
Name = cn
Role = correspondent
Identity = 2001:db8:200::1
Endpoint = [2001:db8:200::1]:4500
SPIOut = 0x3001
SPIIn = 0x4001
KeyOut = ${KEY_MN_CN}
KeyIn = ${KEY_CN_MN}
`;

/** 1-based number of the first line of `text` containing `needle` (the test fails if none). */
export function lineOf(text: string, needle: string, from = 1): number {
  const lines = text.split('\n');
  for (let i = from - 1; i < lines.length; i++) if (lines[i]!.includes(needle)) return i + 1;
  assert.fail(`no line contains ${JSON.stringify(needle)}`);
}

/** Runs `fn`, which must throw a ConfigError; returns its issues. */
export function issuesOf(fn: () => unknown): readonly ConfigIssue[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'ERR_CONFIG');
    assert.ok(err.issues.length > 0);
    return err.issues;
  }
  assert.fail('expected a ConfigError');
}

/** Asserts that `issues` contains one matching every given field of `expected`. */
export function assertIssue(issues: readonly ConfigIssue[], expected: Partial<ConfigIssue>): ConfigIssue {
  const hit = issues.find((i) =>
    (Object.keys(expected) as (keyof ConfigIssue)[]).every((k) => i[k] === expected[k]),
  );
  assert.ok(hit, `no issue matches ${JSON.stringify(expected)}; got ${JSON.stringify(issues, null, 1)}`);
  return hit;
}

/**
 * Sets `Key = Value` (given as the whole line) in the first `[section]` of `text`: replaces the
 * key's line there if it has one, else inserts the line after the header.
 */
export function setKey(text: string, section: 'Interface' | 'Peer', line: string): string {
  const key = line.slice(0, line.indexOf('=')).trim();
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `[${section}]`);
  assert.ok(start >= 0, `no [${section}]`);
  let end = lines.findIndex((l, i) => i > start && l.trim().startsWith('['));
  if (end === -1) end = lines.length;
  const at = lines.findIndex((l, i) => i > start && i < end && l.startsWith(`${key} =`));
  if (at >= 0) lines[at] = line;
  else lines.splice(start + 1, 0, line);
  return lines.join('\n');
}
