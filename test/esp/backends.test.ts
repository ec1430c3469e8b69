/**
 * Runs the one AEAD suite (suite.ts) against every backend: node:crypto, @noble/ciphers, and the
 * native addon when it is built with its AEAD functions (otherwise reported as skipped, with why).
 */
import { test } from 'node:test';
import { nativeAeadUnavailableReason, nativeBackend } from '../../src/esp/backend-native.js';
import { nobleBackend } from '../../src/esp/backend-noble.js';
import { nodeBackend } from '../../src/esp/backend-node.js';
import { suiteTests } from './suite.js';

suiteTests('node', nodeBackend);
suiteTests('noble', nobleBackend);

const nativeMissing = nativeAeadUnavailableReason();
if (nativeMissing === null) suiteTests('native', nativeBackend);
else test('AEAD backend native', { skip: nativeMissing }, () => undefined);
