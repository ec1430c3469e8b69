/**
 * Property test: whatever text parseConfig gets (truncated, mutated or random), it returns a
 * config or throws a ConfigError whose issues all name the file, a line inside the text and a
 * field. Deterministic: a seeded generator, fixed counts.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type KeyFileReader } from '../../src/config/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { CN_PEER, haConfig, mnConfig } from './fixtures.js';
import { prng } from '../helpers/rng.js';


const FILE = 'fuzz.conf';
const reader: KeyFileReader = (p) => (p.length % 2 === 0 ? { ok: true, value: p } : { ok: false, message: `key file ${p} does not exist` });

function assertOnlyConfigError(text: string): void {
  try {
    parseConfig(text, FILE, reader);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `threw ${String(err)} for ${JSON.stringify(text.slice(0, 200))}`);
    const lines = text.split(/\r\n|\r|\n/).length;
    for (const i of err.issues) {
      assert.equal(i.file, FILE);
      assert.ok(Number.isInteger(i.line) && i.line >= 0 && i.line <= lines, `line ${i.line}`);
      assert.ok(i.field.length > 0 && i.message.length > 0);
    }
  }
}

const SEEDS = [mnConfig() + CN_PEER, haConfig('MTU = 1400\nCareOf = x', 'Lifetime = 1h\nSignalSPIOut = 0x9')];
const ALPHABET = '[]=#;,:/.\\-x0fFile: \n\t\r\u0000\u00ff\ufeffé0123456789abcdefPeerInterfaceKeySPI';

test('every truncation of valid configs', () => {
  for (const seed of SEEDS) for (let n = 0; n <= seed.length; n++) assertOnlyConfigError(seed.slice(0, n));
});

test('random single-character mutations of valid configs', () => {
  const rnd = prng(4303);
  for (let round = 0; round < 2000; round++) {
    let text = SEEDS[round % SEEDS.length]!;
    const edits = 1 + Math.floor(rnd() * 4);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rnd() * (text.length + 1));
      const ch = ALPHABET[Math.floor(rnd() * ALPHABET.length)]!;
      const op = rnd();
      text = op < 0.4 ? text.slice(0, at) + ch + text.slice(at) : op < 0.8 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + ch + text.slice(at + 1);
    }
    assertOnlyConfigError(text);
  }
});

test('random text and random line shuffles', () => {
  const rnd = prng(6275);
  for (let round = 0; round < 500; round++) {
    const len = Math.floor(rnd() * 400);
    let text = '';
    for (let i = 0; i < len; i++) text += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
    assertOnlyConfigError(text);
    const lines = SEEDS[round % SEEDS.length]!.split('\n');
    for (let i = lines.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    }
    assertOnlyConfigError(lines.join('\n'));
  }
});
