/**
 * Memory per configured peer of a home-agent gateway, with the real objects `iro up` builds: the
 * config parsed from text, every peer's SAs (payload and signalling pairs) installed with their
 * AEAD contexts (native when the addon is built), replay windows, send counters and durable
 * sequence reservations, the selectors and the compiled SPD. Reports RSS and V8 heap growth per
 * peer at 10, 1,000 and 10,000 peers (throughput issue: target < 2 KiB per peer) and writes
 * bench/results/peers-<date>.json.
 *
 *   node --expose-gc dist/bench/peers.js   (npm run bench:peers; re-runs itself with the flag)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTables } from '../src/cli/daemon/tables.js';
import { parseConfig, noKeyFiles } from '../src/config/index.js';
import { KeyTable } from '../src/pool/keytable.js';
import { StateStore } from '../src/state/index.js';
import { REPO_ROOT } from '../test/helpers/paths.js';

const SIZES = [10, 1000, 10000];
const SLOTS_PER_PEER = 8;

function hex(n: number, bytes: number): string {
  return (n >>> 0).toString(16).padStart(8, '0').repeat(Math.ceil(bytes / 4)).slice(0, bytes * 2);
}

/** A home agent with `n` mobile-node peers; every key distinct (iro refuses shared keys). */
function gatewayConfig(n: number): string {
  const lines = ['[Interface]', 'Role = home-agent', 'Address = 2001:db8:100::1/128', 'HomePrefix = 2001:db8:100::/48', 'Metrics = off'];
  for (let i = 0; i < n; i++) {
    const hoa = `2001:db8:100:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::10`;
    lines.push(
      '[Peer]',
      `Name = mn${i}`,
      `HomeAddress = ${hoa}`,
      `SPIOut = ${0x100000 + 2 * i}`,
      `SPIIn = ${0x800000 + 2 * i}`,
      `KeyOut = ${hex(4 * i + 1, 20)}`,
      `KeyIn = ${hex(4 * i + 2, 20)}`,
    );
  }
  return lines.join('\n') + '\n';
}

function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

interface Row {
  peers: number;
  sas: number;
  rssBytesPerPeer: number;
  heapBytesPerPeer: number;
  crypto: string;
}

function measure(n: number): Row {
  const dir = mkdtempSync(join(tmpdir(), 'iro-peers-'));
  try {
    const text = gatewayConfig(n);
    collect();
    const rss0 = process.memoryUsage().rss;
    const heap0 = process.memoryUsage().heapUsed;
    const config = parseConfig(text, 'gw0.conf', noKeyFiles);
    const keys = new KeyTable(Math.max(64, SLOTS_PER_PEER * n));
    const tables = buildTables(config, { keys, state: StateStore.open(dir, 'gw0'), backend: 'auto' });
    tables.spd.compile();
    collect();
    const m = process.memoryUsage();
    const row: Row = {
      peers: n,
      sas: tables.sad.size,
      rssBytesPerPeer: (m.rss - rss0) / n,
      heapBytesPerPeer: (m.heapUsed - heap0) / n,
      crypto: tables.peers[0]?.payloadOut.aead.backend ?? 'none',
    };
    tables.sad.removeAll();
    return row;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  const rows: Row[] = [];
  for (const n of SIZES) {
    const row = measure(n);
    rows.push(row);
    console.log(
      `${String(row.peers).padStart(6)} peers ${String(row.sas).padStart(6)} SAs  ` +
        `RSS ${row.rssBytesPerPeer.toFixed(0).padStart(6)} B/peer  heap ${row.heapBytesPerPeer.toFixed(0).padStart(6)} B/peer  (${row.crypto})`,
    );
  }
  const out = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `peers-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }, null, 2) + '\n');
  console.log(`wrote ${file}`);
}

main();
