/**
 * The shared ESP known-answer vectors (../shared/vectors/esp-known-answers.json: RFC 7634
 * Appendix A and draft-mcgrew-gcm-test-01 cases 1-7), decoded for the esp/ tests.
 */
import { readFileSync } from 'node:fs';
import { fromHex } from '../../src/util/bytes.js';
import type { SuiteName } from '../../src/esp/types.js';
import { VECTORS_FILE } from '../helpers/paths.js';

interface RawVector {
  name: string;
  suite: string;
  esn: boolean;
  key: string;
  salt: string;
  iv: string;
  spi: string;
  seq: string;
  aad: string;
  plain: string;
  ct_tag: string;
  esp_pkt: string;
}

export interface EspVector {
  readonly name: string;
  readonly suite: SuiteName;
  readonly esn: boolean;
  readonly key: Uint8Array;
  readonly salt: Uint8Array;
  readonly iv: Uint8Array;
  readonly spi: number;
  /** High and low halves of the 64-bit sequence number (hi is 0 without ESN). */
  readonly seqHi: number;
  readonly seqLo: number;
  readonly plain: Uint8Array;
  readonly espPkt: Uint8Array;
}

/** The vectors' suite names -> strongSwan keywords. */
const SUITE_OF: Record<string, SuiteName> = {
  'aes-128-gcm-16': 'aes128gcm16',
  'aes-192-gcm-16': 'aes192gcm16',
  'aes-256-gcm-16': 'aes256gcm16',
  'chacha20-poly1305': 'chacha20poly1305',
};

function decode(v: RawVector): EspVector {
  const suite = SUITE_OF[v.suite];
  if (suite === undefined) throw new Error(`vector ${v.name}: unknown suite ${v.suite}`);
  const seq = BigInt('0x' + v.seq);
  return {
    name: v.name,
    suite,
    esn: v.esn,
    key: fromHex(v.key),
    salt: fromHex(v.salt),
    iv: fromHex(v.iv),
    spi: Number.parseInt(v.spi, 16),
    seqHi: Number(seq >> 32n),
    seqLo: Number(seq & 0xffffffffn),
    plain: fromHex(v.plain),
    espPkt: fromHex(v.esp_pkt),
  };
}

export const VECTORS: readonly EspVector[] = (JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as { vectors: RawVector[] }).vectors.map(decode);
