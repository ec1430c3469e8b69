/**
 * Micro benchmark of ESP seal and open (esp/): every suite x backend x payload size, one thread.
 *
 *   seal  = espSeal: ESP header, IV = seq, padding and trailer, AEAD seal in place
 *   open  = restore the sealed bytes (one copy, the packet is decrypted in place) + espOpen
 *           without a replay window: AEAD open in place, trailer check
 * Backends: node (node:crypto per packet), noble (@noble/ciphers), native (the addon; per packet,
 * and `native/batch` = sealBatch/openBatch of BATCH packets in one addon call), when built.
 * Sizes are payload bytes (64, 576, 1400, 8192); Gbit/s counts payload bits.
 *
 * Before timing, every backend's sealed bytes are cross-checked against every other's for each
 * suite and size, and every backend opens every other's packet. Each measurement warms up first,
 * then runs for a fixed time. The fastest backend per suite (geometric mean of per-packet seal
 * and open packets/s over the sizes) is what esp/backends.ts BACKEND_PREFERENCE should list first.
 *
 * Run: `node dist/bench/micro.js` (about a minute). Writes
 * bench/results/micro-<ISO 8601 basic UTC time>.json and prints a Markdown table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { availableBackends, getBackend } from '../src/esp/backends.js';
import { newAeadBatch, openBatch, sealBatch } from '../src/esp/batch.js';
import { espFinish, espOpen, espSeal, espSealPrepare, newEspInbound } from '../src/esp/sa-crypto.js';
import { SUITES } from '../src/esp/suites.js';
import { SUITE_NAMES, type AeadContext, type BackendName, type SuiteName } from '../src/esp/types.js';
import { ESP_ICV_LEN, IPPROTO_IPIP } from '../src/packet/constants.js';
import { ESP_MAX_TAILROOM, ESP_OFF_PAYLOAD, espPlaintextLength } from '../src/packet/esp.js';
import { bytesEqual } from '../src/util/bytes.js';
import { REPO_ROOT } from '../test/helpers/paths.js';

const SIZES = [64, 576, 1400, 8192];
const OPS = ['seal', 'open'] as const;
type Op = (typeof OPS)[number];
const WARMUP_MS = 80;
const MEASURE_MS = 400;
/** Packets per timing check: keeps the clock out of the loop. */
const CHUNK = 32;
const BATCH = 64;
const SPI = 0x1001;
const BITS_PER_BYTE = 8;
const GIGA = 1e9;
const NS_PER_MS = 1e6;

type Mode = BackendName | 'native/batch';

interface Measurement {
  suite: SuiteName;
  backend: BackendName;
  mode: Mode;
  op: Op;
  size: number;
  packets: number;
  seconds: number;
  pps: number;
  gbps: number;
}

function fill(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 131 + seed * 7) & 0xff;
  return out;
}

const KEYMAT: Record<SuiteName, { key: Uint8Array; salt: Uint8Array }> = Object.fromEntries(
  SUITE_NAMES.map((s, i) => [s, { key: fill(SUITES[s].keyLength, i + 1), salt: fill(4, i + 9) }]),
) as Record<SuiteName, { key: Uint8Array; salt: Uint8Array }>;

function context(suite: SuiteName, backend: BackendName): AeadContext {
  const { key, salt } = KEYMAT[suite];
  return getBackend(backend).create(suite, key, salt, true);
}

/** A buffer holding `size` payload bytes at offset 16 with room for the ESP trailer. */
function packetBuffer(size: number): Uint8Array {
  const buf = new Uint8Array(ESP_OFF_PAYLOAD + size + ESP_MAX_TAILROOM);
  buf.set(fill(size, size), ESP_OFF_PAYLOAD);
  return buf;
}

/** Runs `step(n)` (which processes n packets) for about `ms` milliseconds; returns [packets, s]. */
function timed(ms: number, step: (n: number) => void, perCall: number): [number, number] {
  const start = process.hrtime.bigint();
  const budget = BigInt(ms * NS_PER_MS);
  let packets = 0;
  let elapsed = 0n;
  do {
    step(CHUNK);
    packets += CHUNK * perCall;
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < budget);
  return [packets, Number(elapsed) / GIGA];
}

// ---------------------------------------------------------------------------------------------
// Cross-validation

function crossCheck(backends: BackendName[]): void {
  for (const suite of SUITE_NAMES) {
    for (const size of SIZES) {
      const sealed = backends.map((b) => {
        const buf = packetBuffer(size);
        const len = espSeal(context(suite, b), SPI, buf, ESP_OFF_PAYLOAD, size, IPPROTO_IPIP, 1, 7);
        return buf.slice(0, len);
      });
      for (let i = 1; i < sealed.length; i++) {
        if (!bytesEqual(sealed[i]!, sealed[0]!)) throw new Error(`cross-check: ${backends[i]} and ${backends[0]} seal ${suite} ${size} B differently`);
      }
      for (const b of backends) {
        const out = newEspInbound();
        const buf = sealed[0]!.slice();
        if (!espOpen(context(suite, b), null, buf, 0, buf.length, out, 1) || !bytesEqual(buf.subarray(out.payloadOffset, out.payloadOffset + out.payloadLength), fill(size, size))) {
          throw new Error(`cross-check: ${b} cannot open ${suite} ${size} B sealed by the others`);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Per-packet and batch loops

function perPacket(ctx: AeadContext, op: Op, size: number): (n: number) => void {
  const buf = packetBuffer(size);
  let seq = 1;
  if (op === 'seal') {
    return (n) => {
      for (let i = 0; i < n; i++) espSeal(ctx, SPI, buf, ESP_OFF_PAYLOAD, size, IPPROTO_IPIP, 0, seq++);
    };
  }
  const len = espSeal(ctx, SPI, buf, ESP_OFF_PAYLOAD, size, IPPROTO_IPIP, 0, seq);
  const pristine = buf.slice(0, len);
  const out = newEspInbound();
  return (n) => {
    for (let i = 0; i < n; i++) {
      buf.set(pristine);
      if (!espOpen(ctx, null, buf, 0, len, out, 0)) throw new Error(`open failed during the benchmark: drop ${out.drop}`);
    }
  };
}

function batched(ctx: AeadContext, op: Op, size: number): (n: number) => void {
  const slot = ESP_OFF_PAYLOAD + size + ESP_MAX_TAILROOM;
  const data = new Uint8Array(slot * BATCH);
  const batch = newAeadBatch(data, BATCH);
  const ctxs = [ctx];
  const ptLen = espPlaintextLength(size);
  for (let i = 0; i < BATCH; i++) {
    data.set(fill(size, size), i * slot + ESP_OFF_PAYLOAD);
    batch.esp[i] = i * slot;
    batch.len[i] = ptLen;
    batch.ctxIndex[i] = 0;
  }
  batch.count = BATCH;
  let seq = 1;
  const prepare = (): void => {
    for (let i = 0; i < BATCH; i++) espSealPrepare(data, i * slot + ESP_OFF_PAYLOAD, size, IPPROTO_IPIP, SPI, 0, seq++);
  };
  if (op === 'seal') {
    return (n) => {
      for (let r = 0; r < n; r++) {
        prepare();
        sealBatch(ctxs, batch);
      }
    };
  }
  prepare();
  sealBatch(ctxs, batch);
  const pristine = data.slice();
  const out = newEspInbound();
  const espLen = ESP_OFF_PAYLOAD + ptLen + ESP_ICV_LEN;
  return (n) => {
    for (let r = 0; r < n; r++) {
      data.set(pristine);
      batch.status.fill(0);
      if (openBatch(ctxs, batch) !== BATCH) throw new Error('batch open failed during the benchmark');
      for (let i = 0; i < BATCH; i++) espFinish(data, batch.esp[i]!, espLen, out);
    }
  };
}

function measure(suite: SuiteName, backend: BackendName, mode: Mode, op: Op, size: number): Measurement {
  const ctx = context(suite, backend);
  const step = mode === 'native/batch' ? batched(ctx, op, size) : perPacket(ctx, op, size);
  const perCall = mode === 'native/batch' ? BATCH : 1;
  timed(WARMUP_MS, step, perCall);
  const [packets, seconds] = timed(MEASURE_MS, step, perCall);
  ctx.destroy();
  const pps = packets / seconds;
  return { suite, backend, mode, op, size, packets, seconds, pps, gbps: (pps * size * BITS_PER_BYTE) / GIGA };
}

// ---------------------------------------------------------------------------------------------
// Report

function formatPps(pps: number): string {
  return pps >= 1e6 ? `${(pps / 1e6).toFixed(2)} M` : `${(pps / 1e3).toFixed(1)} k`;
}

function geomean(xs: number[]): number {
  return Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
}

function main(): void {
  const started = new Date();
  const backends = availableBackends();
  const modes: Mode[] = [...backends, ...(backends.includes('native') ? (['native/batch'] as const) : [])];
  console.error(`backends: ${backends.join(', ')}; cross-checking ...`);
  crossCheck(backends);
  const results: Measurement[] = [];
  for (const suite of SUITE_NAMES) {
    for (const mode of modes) {
      const backend: BackendName = mode === 'native/batch' ? 'native' : mode;
      for (const size of SIZES) for (const op of OPS) results.push(measure(suite, backend, mode, op, size));
      console.error(`  ${suite} ${mode} done`);
    }
  }

  const fastest: Record<string, { backend: BackendName; geomeanPps: number }[]> = {};
  for (const suite of SUITE_NAMES) {
    fastest[suite] = backends
      .map((b) => ({ backend: b, geomeanPps: Math.round(geomean(results.filter((r) => r.suite === suite && r.mode === b).map((r) => r.pps))) }))
      .sort((x, y) => y.geomeanPps - x.geomeanPps);
  }

  const lines: string[] = [];
  lines.push(`| suite | backend | op | ${SIZES.map((s) => `${s} B`).join(' | ')} |`);
  lines.push(`|---|---|---|${SIZES.map(() => '---:').join('|')}|`);
  for (const suite of SUITE_NAMES) {
    for (const mode of modes) {
      for (const op of OPS) {
        const cells = SIZES.map((size) => {
          const r = results.find((x) => x.suite === suite && x.mode === mode && x.op === op && x.size === size)!;
          return `${formatPps(r.pps)}pps ${r.gbps.toFixed(2)} Gb/s`;
        });
        lines.push(`| ${suite} | ${mode} | ${op} | ${cells.join(' | ')} |`);
      }
    }
  }
  lines.push('');
  lines.push('| suite | fastest (per-packet, geometric mean of seal and open pps over sizes) |');
  lines.push('|---|---|');
  for (const suite of SUITE_NAMES) {
    lines.push(`| ${suite} | ${fastest[suite]!.map((f) => `${f.backend} ${formatPps(f.geomeanPps)}pps`).join(' > ')} |`);
  }
  console.log(lines.join('\n'));

  const stamp = started.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const dir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `micro-${stamp}.json`);
  const report = {
    benchmark: 'micro',
    date: started.toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    settings: { sizes: SIZES, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, batch: BATCH, esn: true, replayWindow: false },
    fastest,
    results,
  };
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  console.error(`wrote ${file}`);
}

main();
