/** Locations the tests need, found from this file's place in the compiled tree. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findRepoRoot(): string {
  let dir = dirname(new URL(import.meta.url).pathname);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'iro') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the iro repository root above ' + import.meta.url);
    dir = up;
  }
}

export const REPO_ROOT = findRepoRoot();
/** ../shared beside the checkout (CI has it there too). */
export const SHARED_DIR = join(REPO_ROOT, '..', 'shared');
export const VECTORS_FILE = join(SHARED_DIR, 'vectors', 'esp-known-answers.json');
/** The compiled tree the running test belongs to (dist/ or a helper's dist-*). */
export const BUILD_DIR = join(dirname(new URL(import.meta.url).pathname), '..', '..');
