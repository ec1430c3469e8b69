/**
 * The helper program the lab runs inside namespaces (`ip netns exec NS node nstool.js SPEC`),
 * because a Node process cannot move itself into a namespace. SPEC is one JSON argument:
 *   {"op":"recv","host","port","timeoutMs"}             receive one TCP stream (transfer.ts)
 *   {"op":"send","host","port","localAddress?","bytes","seed","timeoutMs"}   send one
 *   {"op":"http","url","timeoutMs"}                     one HTTP GET (http.ts)
 * It writes JSON lines on stdout: {"event":"listening","port"}, {"event":"progress","bytes"},
 * then exactly one {"event":"done",...} (exit 0) or {"event":"error","message"} (exit 1).
 * Run any other way (e.g. imported), it does nothing.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { httpGet } from './http.js';
import { receiveOnce, sendStream, type ToolEvent } from './transfer.js';

interface Spec {
  op: string;
  host?: string;
  port?: number;
  localAddress?: string;
  bytes?: number;
  seed?: string;
  url?: string;
  timeoutMs?: number;
}

function emit(event: ToolEvent): void {
  process.stdout.write(JSON.stringify(event) + '\n');
}

function need<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new TypeError(`spec.${name} is required`);
  return value;
}

async function perform(spec: Spec): Promise<ToolEvent> {
  const timeoutMs = need(spec.timeoutMs, 'timeoutMs');
  switch (spec.op) {
    case 'recv': {
      const r = await receiveOnce({
        host: need(spec.host, 'host'),
        port: need(spec.port, 'port'),
        timeoutMs,
        onListening: (port) => emit({ event: 'listening', port }),
        onProgress: (bytes) => emit({ event: 'progress', bytes }),
      });
      return { event: 'done', ...r };
    }
    case 'send': {
      const r = await sendStream({
        host: need(spec.host, 'host'),
        port: need(spec.port, 'port'),
        localAddress: spec.localAddress,
        bytes: need(spec.bytes, 'bytes'),
        seed: need(spec.seed, 'seed'),
        timeoutMs,
      });
      return { event: 'done', ...r };
    }
    case 'http': {
      const r = await httpGet(need(spec.url, 'url'), timeoutMs);
      return { event: 'done', ...r };
    }
    default:
      throw new RangeError(`spec.op must be recv, send or http, got ${JSON.stringify(spec.op)}`);
  }
}

async function main(arg: string | undefined): Promise<number> {
  try {
    const spec = JSON.parse(need(arg, 'argument')) as Spec;
    emit(await perform(spec));
    return 0;
  } catch (err) {
    emit({ event: 'error', message: err instanceof Error ? err.message : String(err) });
    return 1;
  }
}

const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv[2]);
}
