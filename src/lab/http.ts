/**
 * HTTP GET from inside a namespace, for endpoints that listen on a namespace's loopback (iro's
 * /metrics and /healthz): `httpGetIn` runs `node nstool.js` there; `httpGet` is what it runs.
 * Bounded in time; a non-2xx status is a result, not an error.
 */
import { get } from 'node:http';
import { IroError } from '../util/errors.js';
import type { Netns } from './lab.js';
import { spawnNsTool, toolResult } from './transfer.js';

/** Largest body kept. */
const MAX_BODY = 16 * 1024 * 1024;
/** Time to start node in a namespace (on top of the request timeout). */
const STARTUP_MS = 15_000;

export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

/** GETs `url` from this process. Rejects with IroError 'ERR_IO' on a connection error or timeout. */
export function httpGet(url: string, timeoutMs: number): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < MAX_BODY) body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => reject(new IroError('ERR_IO', `GET ${url}: ${err.message}`, { cause: err })));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new IroError('ERR_IO', `GET ${url}: ${err.message}`, { cause: err })));
  });
}

/** GETs `url` from inside `ns`. Rejects with IroError 'ERR_IO' when the request fails. */
export async function httpGetIn(ns: Netns, url: string, timeoutMs = 5000): Promise<HttpResponse> {
  const proc = spawnNsTool(ns, { op: 'http', url, timeoutMs }, 'http-get');
  const e = await toolResult(proc, timeoutMs + STARTUP_MS);
  return { status: e.status ?? 0, body: e.body ?? '' };
}
