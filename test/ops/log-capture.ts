/** A Logger that keeps its records, for tests that check what iro warns about. */
import type { LogFields, Logger, LogLevel } from '../../src/util/log.js';

export interface LogRecord {
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields: LogFields;
}

export function captureLogger(): Logger & { readonly records: LogRecord[] } {
  const records: LogRecord[] = [];
  const make = (base: LogFields): Logger => ({
    debug: (msg, f) => void records.push({ level: 'debug', msg, fields: { ...base, ...f } }),
    info: (msg, f) => void records.push({ level: 'info', msg, fields: { ...base, ...f } }),
    warn: (msg, f) => void records.push({ level: 'warn', msg, fields: { ...base, ...f } }),
    error: (msg, f) => void records.push({ level: 'error', msg, fields: { ...base, ...f } }),
    child: (fields) => make({ ...base, ...fields }),
  });
  return Object.assign(make({}), { records });
}
