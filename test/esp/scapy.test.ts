/**
 * Interop with an ESP implementation nobody here wrote: Debian's Scapy (scapy.layers.ipsec, on
 * Python's `cryptography`). iro seals -> Scapy decrypts the same bytes, and Scapy encrypts ->
 * iro opens, for AES-GCM (128/192/256) and ChaCha20-Poly1305, with and without ESN, tunnel mode
 * (inner IPv4), on every available backend. Skipped, with the reason, where Scapy is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createEspSa } from '../../src/esp/library.js';
import { availableBackends } from '../../src/esp/backends.js';
import { SUITES } from '../../src/esp/suites.js';
import type { SuiteName } from '../../src/esp/types.js';
import { IPPROTO_IPIP, IPPROTO_UDP, IPV4_MIN_HDR_LEN, IPV4_OFF_CHECKSUM, UDP_HDR_LEN } from '../../src/packet/constants.js';
import { ESP_OFF_PAYLOAD, espPadLength } from '../../src/packet/esp.js';
import { toHex, writeU16 } from '../../src/util/bytes.js';
import { internetChecksum } from '../../src/util/checksum.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { Rng } from '../helpers/rng.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(REPO_ROOT, 'test', 'esp', 'scapy_esp.py');
/** Scapy's names (scapy.layers.ipsec.CRYPT_ALGOS); the key size picks AES-128/192/256. */
const SCAPY_ALGO: Record<SuiteName, string> = {
  aes128gcm16: 'AES-GCM',
  aes192gcm16: 'AES-GCM',
  aes256gcm16: 'AES-GCM',
  chacha20poly1305: 'CHACHA20-POLY1305',
};
const INNER_SRC = [192, 0, 2, 10];
const INNER_DST = [198, 51, 100, 20];
const TTL = 64;

function scapyMissing(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import scapy.layers.ipsec'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} not runnable: ${r.error.message}`;
  return r.status === 0 ? null : `Scapy not importable: ${r.stderr.trim().split('\n').pop()}`;
}

interface Job {
  op: 'encrypt' | 'decrypt';
  algo: string;
  keymat: string;
  spi: number;
  esn: boolean;
  seq_hi: number;
  seq?: number;
  inner?: string;
  esp?: string;
}

interface ScapyResult {
  error?: string;
  esp?: string;
  inner?: string;
  data?: string;
  nh?: number;
  padlen?: number;
}

function runScapy(jobs: Job[]): ScapyResult[] {
  const r = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(jobs), encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `scapy_esp.py failed: ${r.stderr}`);
  const results = JSON.parse(r.stdout) as ScapyResult[];
  assert.equal(results.length, jobs.length);
  return results;
}

/** A valid inner IPv4/UDP packet (header checksum set, UDP checksum 0 as IPv4 allows). */
function innerPacket(dataLen: number, rng: Rng): Uint8Array {
  const total = IPV4_MIN_HDR_LEN + UDP_HDR_LEN + dataLen;
  const p = new Uint8Array(total);
  p.set([0x45, 0, 0, 0, 0x12, 0x34, 0, 0, TTL, IPPROTO_UDP, 0, 0, ...INNER_SRC, ...INNER_DST]);
  writeU16(p, 2, total);
  writeU16(p, IPV4_OFF_CHECKSUM, internetChecksum(p, 0, IPV4_MIN_HDR_LEN));
  writeU16(p, IPV4_MIN_HDR_LEN, 4500);
  writeU16(p, IPV4_MIN_HDR_LEN + 2, 4501);
  writeU16(p, IPV4_MIN_HDR_LEN + 4, UDP_HDR_LEN + dataLen);
  p.set(rng.bytes(dataLen), IPV4_MIN_HDR_LEN + UDP_HDR_LEN);
  return p;
}

interface Case {
  suite: SuiteName;
  esn: boolean;
  seq: bigint;
  keymat: string;
  spi: number;
  inner: Uint8Array;
}

function cases(): Case[] {
  const rng = new Rng(3948);
  const out: Case[] = [];
  const seqs: [boolean, bigint][] = [
    [false, 1n],
    [false, 0xfffffffen],
    [true, 0x100000005n],
    [true, 0xfffffffeffffffffn],
  ];
  for (const suite of Object.keys(SUITES) as SuiteName[]) {
    for (const [esn, seq] of seqs) {
      for (const dataLen of [0, 1, 2, 3, 97, 1372]) {
        out.push({
          suite,
          esn,
          seq,
          keymat: toHex(rng.bytes(SUITES[suite].keyLength + 4)),
          spi: 0x100 + rng.int(0x7fffff00),
          inner: innerPacket(dataLen, rng),
        });
      }
    }
  }
  return out;
}

const missing = scapyMissing();

for (const backend of availableBackends()) {
  test(`iro (${backend}) seals -> Scapy decrypts the same bytes`, { skip: missing ?? false }, () => {
    const all = cases();
    const jobs: Job[] = all.map((c) => {
      const sa = createEspSa({ suite: c.suite, keymat: c.keymat, spi: c.spi, esn: c.esn, backend });
      const esp = sa.seal(c.inner, { nextHeader: IPPROTO_IPIP, seq: c.seq });
      sa.destroy();
      return { op: 'decrypt', algo: SCAPY_ALGO[c.suite], keymat: c.keymat, spi: c.spi, esn: c.esn, seq_hi: Number(c.seq >> 32n), esp: toHex(esp) };
    });
    const results = runScapy(jobs);
    all.forEach((c, i) => {
      const r = results[i]!;
      const what = `${c.suite} esn=${c.esn} seq=${c.seq} inner ${c.inner.length} B`;
      assert.equal(r.error, undefined, `${what}: ${r.error}`);
      assert.equal(r.data, toHex(c.inner), `${what}: payload`);
      assert.equal(r.inner, toHex(c.inner), `${what}: tunnel-mode decryption`);
      assert.equal(r.nh, IPPROTO_IPIP, what);
      assert.equal(r.padlen, espPadLength(c.inner.length), what);
    });
  });

  test(`Scapy encrypts -> iro (${backend}) opens`, { skip: missing ?? false }, () => {
    const all = cases();
    const results = runScapy(
      all.map((c) => ({
        op: 'encrypt',
        algo: SCAPY_ALGO[c.suite],
        keymat: c.keymat,
        spi: c.spi,
        esn: c.esn,
        seq_hi: Number(c.seq >> 32n),
        seq: Number(c.seq & 0xffffffffn),
        inner: toHex(c.inner),
      })),
    );
    all.forEach((c, i) => {
      const r = results[i]!;
      const what = `${c.suite} esn=${c.esn} seq=${c.seq} inner ${c.inner.length} B`;
      assert.equal(r.error, undefined, `${what}: ${r.error}`);
      const esp = Uint8Array.from(Buffer.from(r.esp!, 'hex'));
      assert.equal(esp.length % 4, 0, `${what}: Scapy's packet is 4-byte aligned`);
      const sa = createEspSa({ suite: c.suite, keymat: c.keymat, spi: c.spi, esn: c.esn, backend });
      const opened = sa.open(esp, c.esn ? { seqHi: Number(c.seq >> 32n) } : {});
      assert.equal(toHex(opened.payload), toHex(c.inner), what);
      assert.equal(opened.nextHeader, IPPROTO_IPIP, what);
      assert.equal(opened.seq, c.seq, what);
      assert.equal(esp.length, ESP_OFF_PAYLOAD + c.inner.length + espPadLength(c.inner.length) + 2 + 16, `${what}: same padding rule`);
      sa.destroy();
    });
  });
}
