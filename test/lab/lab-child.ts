/**
 * A program that builds a small lab and then ends without calling teardown, for lab.test.ts to
 * prove that the 'exit' and signal hooks still remove everything. Mode (argv[2]):
 *   throw  an uncaught exception after setup      exit  process.exit(3) after setup
 *   wait   stay alive until a signal arrives
 *   host   like wait, but as a program with its own graceful SIGTERM handler: the lab is made
 *          with `signals: false` and the handler tears it down, then exits 0 (2 if the lab was
 *          already gone when the handler ran)
 * It prints one JSON line {namespaces, pid, dir} once the lab is up, and acts on the first line
 * it reads on stdin (so the parent can look at the lab first). Needs root.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Lab } from '../../src/lab/index.js';

const mode = process.argv[2];
const lab = new Lab({ prefix: 'iroc', signals: mode !== 'host' });
const a = lab.netns('a');
const b = lab.netns('b');
lab.link(a, b);
const sleeper = a.spawn('sleep', ['600']);
const dir = lab.tempDir('child');
if (mode === 'host') {
  process.on('SIGTERM', () => {
    // The lab must still be intact here: it was not torn down behind the host's back.
    const intact = existsSync(`/run/netns/${a.name}`) && lab.processes.length === 1;
    void lab.teardown().then((problems) => process.exit(intact && problems.length === 0 ? 0 : 2));
  });
}
process.stdout.write(JSON.stringify({ namespaces: [a.name, b.name], pid: sleeper.pid, dir }) + '\n');
if (mode === 'wait' || mode === 'host') setInterval(() => undefined, 1000);
else await once(createInterface({ input: process.stdin }), 'line');
if (mode === 'throw') throw new Error('deliberate failure after lab setup');
if (mode === 'exit') process.exit(3);
