/**
 * The control socket: a Unix stream socket per interface speaking JSON lines (DESIGN.md
 * "Control socket"). `iro show`, `iro down`, `iro roam` and scripts talk to a running daemon
 * through it. One request per line, one response per line:
 *   request  {"id": 1, "cmd": "show", "args": {...}}
 *   response {"id": 1, "ok": true, "result": {...}}  or  {"id": 1, "ok": false, "error": {"code", "message"}}
 * The socket is created mode 0600 in a 0700 directory: only its owner (root) may steer the daemon.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IroError } from '../util/errors.js';

export const DEFAULT_RUN_DIR = '/run/iro';
const MAX_LINE = 1 << 20;

/** Where the socket of interface `name` lives; IRO_RUN_DIR overrides the directory (tests). */
export function controlSocketPath(name: string, runDir = process.env['IRO_RUN_DIR'] ?? DEFAULT_RUN_DIR): string {
  return join(runDir, `${name}.sock`);
}

export interface ControlRequest {
  readonly id: number;
  readonly cmd: string;
  readonly args?: Record<string, unknown>;
}

export type ControlHandler = (cmd: string, args: Record<string, unknown>) => Promise<unknown> | unknown;

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

function errorBody(err: unknown): { code: string; message: string } {
  if (err instanceof IroError) return { code: err.code, message: err.message };
  return { code: 'ERR_CONTROL', message: err instanceof Error ? err.message : String(err) };
}

function serve(socket: Socket, handler: ControlHandler): void {
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_LINE) {
      socket.end(JSON.stringify({ id: 0, ok: false, error: { code: 'ERR_CONTROL', message: 'request too long' } }) + '\n');
      return;
    }
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() === '') continue;
      let req: ControlRequest;
      try {
        req = JSON.parse(line) as ControlRequest;
        if (typeof req.cmd !== 'string' || typeof req.id !== 'number') throw new Error('request needs a numeric id and a cmd');
      } catch (err) {
        socket.write(JSON.stringify({ id: 0, ok: false, error: { code: 'ERR_CONTROL', message: `bad request: ${(err as Error).message}` } }) + '\n');
        continue;
      }
      Promise.resolve()
        .then(() => handler(req.cmd, req.args ?? {}))
        .then(
          (result) => socket.write(JSON.stringify({ id: req.id, ok: true, result: result ?? null }, bigintReplacer) + '\n'),
          (err: unknown) => socket.write(JSON.stringify({ id: req.id, ok: false, error: errorBody(err) }) + '\n'),
        );
    }
  });
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * Listens on `path`. A stale socket file left by a crashed daemon is replaced; a live one (another
 * daemon answering) is an error: two daemons must not drive the same interface.
 */
export async function startControlServer(path: string, handler: ControlHandler): Promise<ControlServer> {
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let exists = false;
  try {
    exists = statSync(path).isSocket();
  } catch {
    exists = false;
  }
  if (exists) {
    const alive = await new Promise<boolean>((resolve) => {
      const c = createConnection(path);
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (alive) throw new IroError('ERR_CONTROL', `another iro daemon is already running on ${path}; stop it with iro down`);
    rmSync(path, { force: true });
  }
  const server: Server = createServer((s) => serve(s, handler));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new IroError('ERR_CONTROL', `cannot listen on ${path}: ${err.message}`, { cause: err })));
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        rmSync(path, { force: true });
      }),
  };
}

/** Sends one request to the daemon at `path` and returns its result; throws IroError on failure. */
export async function controlRequest(path: string, cmd: string, args: Record<string, unknown> = {}, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new IroError('ERR_CONTROL', `no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? ' (is the daemon running? start it with iro up)' : '';
      reject(new IroError('ERR_CONTROL', `cannot reach the daemon at ${path}: ${err.message}${hint}`, { cause: err }));
    });
    socket.once('connect', () => socket.write(JSON.stringify({ id: 1, cmd, args }) + '\n'));
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      clearTimeout(timer);
      socket.end();
      try {
        const res = JSON.parse(buf.slice(0, nl)) as { ok: boolean; result?: unknown; error?: { code: string; message: string } };
        if (res.ok) resolve(res.result);
        else reject(new IroError('ERR_CONTROL', `${res.error?.code ?? 'ERR_CONTROL'}: ${res.error?.message ?? 'unknown error'}`));
      } catch (err) {
        reject(new IroError('ERR_CONTROL', `bad answer from ${path}: ${(err as Error).message}`));
      }
    });
  });
}
