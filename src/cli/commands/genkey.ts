/**
 * `iro genkey [--cipher NAME]`: prints fresh random KEYMAT (cipher key || 4-byte salt, RFC 4106
 * §8.1 / RFC 7634 §2) in hex, the form KeyOut/KeyIn and key files take. The only command that
 * prints key material, and only to stdout.
 */
import { CIPHER_NAMES, DEFAULTS } from '../../config/index.js';
import { toHex, wipe } from '../../util/bytes.js';
import { ExitCode } from '../../util/errors.js';
import { parseCommandArgs, stringOption, type Command } from '../command.js';
import { cipherOption, randomKeymat } from '../keygen.js';

const USAGE = `usage: iro genkey [--cipher NAME]

Prints a random key for one SA direction in hex: the cipher key followed by its 4-byte salt
(20 bytes for aes128gcm16, 28 for aes192gcm16, 36 for aes256gcm16 and chacha20poly1305).
Store it in a key file readable only by its owner, e.g.
  umask 077; iro genkey > /etc/iro/keys/mn0-out.key

options:
  --cipher NAME   ${CIPHER_NAMES.join(' | ')} (default ${DEFAULTS.cipher})
`;

export const genkeyCommand: Command = {
  name: 'genkey',
  summary: 'print a random key (key + salt, hex) for a cipher',
  usage: USAGE,
  async run(args, io) {
    const parsed = parseCommandArgs(args, { cipher: { type: 'string' } }, 0, 0);
    const cipher = cipherOption(stringOption(parsed, 'cipher', DEFAULTS.cipher));
    const keymat = randomKeymat(cipher);
    io.out(toHex(keymat) + '\n');
    wipe(keymat);
    return ExitCode.OK;
  },
};
