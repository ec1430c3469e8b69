/**
 * config/ may not import esp/, so it keeps its own list of cipher names and key lengths; this
 * keeps it equal to esp/types.ts and esp/suites.ts.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { CIPHER_KEY_LENGTH, CIPHER_NAMES, keymatLength } from '../../src/config/index.js';
import { SUITES } from '../../src/esp/suites.js';
import { SUITE_NAMES } from '../../src/esp/types.js';

test('config cipher names are esp suite names', () => {
  assert.deepEqual([...CIPHER_NAMES].sort(), [...SUITE_NAMES].sort());
});

test('KEYMAT lengths are key + 4-byte salt (RFC 4106 §8.1, RFC 7634 §2)', () => {
  assert.deepEqual(CIPHER_KEY_LENGTH, { aes128gcm16: 16, aes192gcm16: 24, aes256gcm16: 32, chacha20poly1305: 32 });
  assert.deepEqual(CIPHER_NAMES.map(keymatLength), [20, 28, 36, 36]);
  for (const name of CIPHER_NAMES) assert.equal(CIPHER_KEY_LENGTH[name], SUITES[name].keyLength, name);
});
