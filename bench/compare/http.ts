/**
 * HTTP GET inside a namespace, through nsfetch.js run with `ip netns exec` (see nsfetch.ts for
 * why), and a bounded wait for an endpoint to answer 200.
 */
import { fileURLToPath } from 'node:url';
import { BenchError } from './errors.js';
import type { Lab, Side } from './lab.js';
import type { Proc } from './session.js';

const NSFETCH = fileURLToPath(new URL('./nsfetch.js', import.meta.url));
/** Slack for starting node on top of the request's own timeout. */
const NODE_START_MS = 10_000;

export type FetchResult = { readonly status: number; readonly body: string } | { readonly error: string };

/** GET `url` from inside namespace `side`. Never rejects for HTTP or connection errors. */
export async function fetchIn(lab: Lab, side: Side, url: string, timeoutMs = 5000): Promise<FetchResult> {
  const r = await lab.exec(side, process.execPath, [NSFETCH, url, String(timeoutMs)], { timeoutMs: timeoutMs + NODE_START_MS });
  try {
    return JSON.parse(r.stdout) as FetchResult;
  } catch {
    throw new BenchError('ERR_BENCH_COMMAND', `nsfetch gave no JSON for ${url}: ${r.stdout.slice(0, 200)}`);
  }
}

/**
 * Polls `url` inside `side` until it answers 200. Rejects with ERR_BENCH_SETUP when `proc`
 * (the server being waited for, if given) exits first, or ERR_BENCH_TIMEOUT after `timeoutMs`
 * naming the last answer seen.
 */
export async function waitFor200(lab: Lab, side: Side, url: string, timeoutMs: number, proc?: Proc): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (proc !== undefined && !proc.running) throw new BenchError('ERR_BENCH_SETUP', proc.describeExit());
    const r = await fetchIn(lab, side, url, 2000);
    if ('status' in r && r.status === 200) return;
    last = 'status' in r ? `HTTP ${r.status}` : r.error;
    await lab.session.sleep(200);
  }
  if (proc !== undefined && !proc.running) throw new BenchError('ERR_BENCH_SETUP', proc.describeExit());
  throw new BenchError('ERR_BENCH_TIMEOUT', `${url} in ${lab.ns[side]} did not answer 200 within ${timeoutMs} ms (last: ${last})`);
}
