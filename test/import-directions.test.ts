/**
 * Keeps DESIGN.md's module map true: every import between src/ modules must follow the allowed
 * directions. Reads the import lines of the TypeScript sources.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

const SRC = resolve(dirname(new URL(import.meta.url).pathname), '../../src');

/** module -> modules it may import (besides itself). `native` is the addon loader. */
const ALLOWED: Record<string, string[]> = {
  util: [],
  native: [],
  packet: ['util'],
  esp: ['packet', 'util', 'native'],
  sad: ['esp', 'packet', 'util'],
  spd: ['packet', 'util'],
  iro: ['packet', 'util'],
  pool: ['esp', 'packet', 'util', 'native'],
  io: ['packet', 'util', 'native'],
  metrics: ['util'],
  config: ['util'],
  state: ['util'],
  control: ['util'],
  lab: ['util'],
  ops: ['util', 'config'],
  dataplane: ['spd', 'sad', 'iro', 'esp', 'packet', 'util', 'io', 'pool', 'metrics', 'state'],
  cli: ['*'],
};
/** dataplane may only use types from these (import type). */
const TYPE_ONLY: Record<string, string[]> = { dataplane: ['io', 'pool', 'metrics', 'state'] };

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('src/ modules import only in the directions of DESIGN.md', () => {
  const violations: string[] = [];
  const files = walk(SRC);
  assert.ok(files.length > 10, 'expected to find the sources');
  for (const file of files) {
    const rel = relative(SRC, file);
    const mod = rel.split('/')[0]!;
    if (!(mod in ALLOWED)) {
      if (rel.includes('/')) violations.push(`${rel}: module ${mod} is not in the module map`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    const re = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm;
    for (const m of text.matchAll(re)) {
      const spec = m[3]!;
      const isType = Boolean(m[2]);
      if (!spec.startsWith('.')) {
        if (spec === 'prom-client' && mod !== 'metrics') violations.push(`${rel}: only metrics/ may import prom-client`);
        continue;
      }
      const target = relative(SRC, resolve(dirname(file), spec));
      const tmod = target.split('/')[0]!;
      if (tmod === mod || target.startsWith('..')) continue;
      const allowed = ALLOWED[mod]!;
      if (!allowed.includes('*') && !allowed.includes(tmod)) violations.push(`${rel}: imports ${tmod} (${spec})`);
      else if (TYPE_ONLY[mod]?.includes(tmod) && !isType) violations.push(`${rel}: may import only types from ${tmod}`);
    }
  }
  assert.deepEqual(violations, []);
});
