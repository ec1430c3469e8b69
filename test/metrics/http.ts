/** Real HTTP requests against a running metrics server, and a logger that keeps what it was told. */
import type { LogFields, Logger } from '../../src/util/log.js';

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

export async function request(baseUrl: string, path: string, method = 'GET'): Promise<Reply> {
  const res = await fetch(baseUrl + path, { method });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly fields: LogFields | undefined;
}

/** A Logger that records every line in `lines`. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger: Logger & { lines: LogLine[] } = {
    lines,
    debug: (msg, fields) => void lines.push({ level: 'debug', msg, fields }),
    info: (msg, fields) => void lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => void lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => void lines.push({ level: 'error', msg, fields }),
    child: () => logger,
  };
  return logger;
}
