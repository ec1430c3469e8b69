/**
 * The metrics HTTP endpoint (DESIGN.md "Metrics"): GET /metrics in the registry's exposition
 * format and GET /healthz as a small JSON document, on node:http with no framework. Loopback by
 * default (127.0.0.1:9469, the `Metrics =` key of the [Interface] section changes it).
 *
 * Responses: 200 on the two paths (HEAD too, as HTTP requires of every server: RFC 9110 §9.1),
 * /healthz 503 when the check fails or throws, 404 for any other path, 405 with `Allow` for other
 * methods, 500 when the registry cannot produce the exposition (logged at `error`: someone must
 * look at it).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { IroError, PrivilegeError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { ExpositionSource, HealthReport } from './types.js';

export const DEFAULT_METRICS_HOST = '127.0.0.1';
/** DESIGN.md's default `Metrics = 127.0.0.1:9469`. */
export const DEFAULT_METRICS_PORT = 9469;

export interface MetricsServerOptions {
  /** Address to bind: an IPv4 or IPv6 literal or a host name (default 127.0.0.1). */
  readonly host?: string;
  /** TCP port, 0 for any free port (default 9469). */
  readonly port?: number;
  /** What /metrics serves; a prom-client Registry satisfies it. */
  readonly registry: ExpositionSource;
  /** Called on each GET /healthz; may be async. A throw counts as unhealthy. */
  readonly health: () => HealthReport | Promise<HealthReport>;
  readonly log: Logger;
}

export interface MetricsServer {
  /** The address actually bound (the real port when 0 was asked for). */
  readonly host: string;
  readonly port: number;
  /** `http://host:port` with IPv6 literals in brackets. */
  readonly url: string;
  /** Stops accepting connections, closes idle keep-alive ones, and resolves once all have ended. */
  close(): Promise<void>;
}

const ALLOW = 'GET, HEAD';

/** `host:port`, with IPv6 literals in brackets. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function send(res: ServerResponse, status: number, contentType: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value) + '\n');
}

async function serveMetrics(res: ServerResponse, registry: ExpositionSource, log: Logger): Promise<void> {
  let body: string;
  try {
    body = await registry.metrics();
  } catch (err) {
    log.error('metrics scrape failed', { err });
    send(res, 500, 'text/plain; charset=utf-8', `scrape failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return;
  }
  send(res, 200, registry.contentType, body);
}

async function serveHealth(res: ServerResponse, health: MetricsServerOptions['health'], log: Logger): Promise<void> {
  let report: HealthReport;
  try {
    report = await health();
  } catch (err) {
    log.warn('health check failed', { err });
    sendJson(res, 503, { ok: false, error: err instanceof Error ? err.message : String(err) });
    return;
  }
  sendJson(res, report.ok ? 200 : 503, { ok: report.ok, ...(report.details ? { details: report.details } : {}) });
}

function handler(opts: MetricsServerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path !== '/metrics' && path !== '/healthz') {
      send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics or /healthz\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', `method ${req.method ?? ''} not allowed\n`, { Allow: ALLOW });
      return;
    }
    const done = path === '/metrics' ? serveMetrics(res, opts.registry, opts.log) : serveHealth(res, opts.health, opts.log);
    done.catch((err: unknown) => {
      opts.log.error('metrics server response failed', { err });
      res.destroy();
    });
  };
}

function validate(opts: MetricsServerOptions): { host: string; port: number } {
  const host = opts.host ?? DEFAULT_METRICS_HOST;
  const port = opts.port ?? DEFAULT_METRICS_PORT;
  if (typeof host !== 'string' || host.length === 0) throw new TypeError('options.host must be a non-empty string');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError('options.port must be an integer in 0..65535');
  if (typeof opts.registry?.metrics !== 'function') throw new TypeError('options.registry must have a metrics() method');
  if (typeof opts.health !== 'function') throw new TypeError('options.health must be a function');
  if (typeof opts.log?.info !== 'function') throw new TypeError('options.log must be a Logger');
  return { host, port };
}

function listenError(err: NodeJS.ErrnoException, where: string): IroError {
  const change = 'change `Metrics =` in the [Interface] section';
  switch (err.code) {
    case 'EADDRINUSE':
      return new IroError('ERR_IO', `metrics: cannot listen on ${where}: address already in use; ${change}`, { cause: err });
    case 'EACCES':
      return new PrivilegeError(
        `metrics: cannot listen on ${where}: permission denied`,
        `${change} to a port >= 1024, or grant CAP_NET_BIND_SERVICE`,
        { cause: err },
      );
    case 'EADDRNOTAVAIL':
      return new IroError('ERR_IO', `metrics: cannot listen on ${where}: no local interface has this address; ${change}`, { cause: err });
    default:
      return new IroError('ERR_IO', `metrics: cannot listen on ${where}: ${err.code ?? err.message}; ${change}`, { cause: err });
  }
}

/**
 * Starts serving /metrics and /healthz. Resolves once the socket is bound; rejects with IroError
 * 'ERR_IO' (address in use, no such local address, host name not resolvable) or 'ERR_PRIVILEGE'
 * (privileged port), each naming the address and the config key to change. The caller owns the
 * returned server and must `close()` it.
 */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const { host, port } = validate(opts);
  const server: Server = createServer(handler(opts));
  const where = formatHostPort(host, port);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(listenError(err, where));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
  server.on('error', (err) => opts.log.error('metrics server error', { err }));
  const bound = server.address();
  if (bound === null || typeof bound === 'string') {
    server.close();
    throw new IroError('ERR_IO', `metrics: ${where} did not bind to a TCP address`);
  }
  const url = `http://${formatHostPort(bound.address, bound.port)}`;
  opts.log.info('metrics server listening', { url });
  return {
    host: bound.address,
    port: bound.port,
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(new IroError('ERR_IO', `metrics: closing ${url} failed`, { cause: err })) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
