/** `DNS =` through the real `iro up` / `iro down`: applied while up, restored after a clean stop
 * and after a crash (repaired by `iro down FILE` from the restore journal). */
import test from 'node:test';
import { runDnsUpDown } from './dns-updown.js';

test('resolvconf: DNS applied while up, restored by iro down', () => runDnsUpDown({ resolver: 'resolvconf', stop: 'down' }));
test('resolvectl: DNS applied while up, restored by iro down', () => runDnsUpDown({ resolver: 'resolvectl', stop: 'down' }));
test('no resolver manager: a warning, never a failure; nothing to restore', () => runDnsUpDown({ resolver: 'none', stop: 'down' }));
test('resolvconf: after SIGKILL, iro down FILE restores the resolvers from the journal', () =>
  runDnsUpDown({ resolver: 'resolvconf', stop: 'crash' }));
