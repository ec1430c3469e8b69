/**
 * Command line of the comparison benchmark (`iro bench`, `npm run bench:compare`):
 *
 *   node dist/bench/compare.js [--quick] [--only ID,...] [--reps N] [--duration S] [--out DIR]
 *                              [--no-install] [--list] [--verbose]
 *
 * Progress goes to stderr as plain lines; the Markdown report goes to stdout at the end, after
 * the paths of the files written. Exit codes: 0 ok (contenders that failed are in the report),
 * 1 failure, 2 usage, 77 not root / no TUN, 130/143 interrupted by SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { LogFields, Logger, LogLevel } from '../src/util/log.js';
import { allContenders, BenchError, InterruptedError, DEFAULT_DURATION_S, DEFAULT_REPS, QUICK_DURATION_S, runCompare, type CompareOptions } from './compare/index.js';

export const USAGE = `usage: node dist/bench/compare.js [options]   (also: iro bench, npm run bench:compare)

Builds two network namespaces joined by a veth pair and measures, in one run, plain veth, every
iro variant, wireguard-go, strongSwan (kernel-libipsec) and OpenVPN: iperf3 TCP -P 1 and -P 4,
UDP with 1400-byte datagrams, ping idle and under load, CPU per GB; a private Prometheus scrapes
iro meanwhile. Writes bench/results/<date>.json, .md and .svg. Needs root.

options:
  --quick           one repetition of ${QUICK_DURATION_S}-second runs (smoke test)
  --only LIST       comma-separated contender ids or prefixes (e.g. veth,wireguard-go,iro:aes128gcm16)
  --reps N          repetitions (default ${DEFAULT_REPS}; --quick: 1)
  --duration S      seconds per iperf3 run (default ${DEFAULT_DURATION_S}; --quick: ${QUICK_DURATION_S})
  --out DIR         output directory (default <repo>/bench/results)
  --iro-cli FILE    run iro as \`node FILE\` instead of node <repo>/bin/iro.js
  --no-install      do not run apt-get; report the command to run instead
  --list            print the contender ids and exit
  --verbose         also print debug lines (every process started)
  -h, --help        this text
`;

const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, NO_PERMISSION: 77, SIGINT: 130, SIGTERM: 143 } as const;

/** A Logger for people: `[bench HH:MM:SS] message key=value ...` on stderr. */
function consoleLogger(min: LogLevel): Logger {
  const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (rank[level] < rank[min]) return;
    const time = new Date().toISOString().slice(11, 19);
    const extra = Object.entries(fields ?? {})
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v instanceof Error ? v.message : v)}`)
      .join(' ');
    process.stderr.write(`[bench ${time}]${level === 'info' ? '' : ` ${level}:`} ${msg}${extra ? ' ' + extra : ''}\n`);
  };
  const logger: Logger = {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: () => logger,
  };
  return logger;
}

function positiveInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new BenchError('ERR_BENCH_USAGE', `${name} takes a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** Parses the command line into runCompare options, or null for --help/--list (already printed). */
export function parseCompareArgs(argv: readonly string[], out: (text: string) => void): CompareOptions | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean' },
        only: { type: 'string' },
        reps: { type: 'string' },
        duration: { type: 'string' },
        out: { type: 'string' },
        'iro-cli': { type: 'string' },
        'no-install': { type: 'boolean' },
        list: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new BenchError('ERR_BENCH_USAGE', (err as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    out(USAGE);
    return null;
  }
  if (v.list) {
    out(allContenders().map((c) => `${c.id.padEnd(40)} ${c.label}\n`).join(''));
    return null;
  }
  const only = v.only?.split(',').map((s) => s.trim()).filter((s) => s !== '') ?? [];
  return {
    quick: v.quick === true,
    only,
    reps: positiveInt('--reps', v.reps),
    durationSeconds: positiveInt('--duration', v.duration),
    outDir: v.out,
    install: v['no-install'] !== true,
    iroCommand: v['iro-cli'] !== undefined ? [process.execPath, resolve(v['iro-cli'])] : undefined,
    log: consoleLogger(v.verbose ? 'debug' : 'info'),
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  const write = (text: string): void => void process.stdout.write(text);
  try {
    const options = parseCompareArgs(argv, write);
    if (options === null) return EXIT.OK;
    const report = await runCompare(options);
    write(`results: ${report.files.json}\n         ${report.files.markdown}\n         ${report.files.svg}\n\n`);
    write(readFileSync(report.files.markdown, 'utf8'));
    return EXIT.OK;
  } catch (err) {
    if (!(err instanceof BenchError)) {
      process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
      return EXIT.FAILURE;
    }
    process.stderr.write(`bench: ${err.message}\n`);
    if (err instanceof InterruptedError) return err.signal === 'SIGTERM' ? EXIT.SIGTERM : EXIT.SIGINT;
    switch (err.code) {
      case 'ERR_BENCH_USAGE':
        process.stderr.write('\n' + USAGE);
        return EXIT.USAGE;
      case 'ERR_BENCH_PRIVILEGE':
        return EXIT.NO_PERMISSION;
      default:
        return EXIT.FAILURE;
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
