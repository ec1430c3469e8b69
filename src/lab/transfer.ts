/**
 * A bounded, verifiable TCP transfer between two namespaces.
 *
 * The sender streams N bytes of deterministic pseudo-random data (the AES-128-CTR keystream of a
 * key derived from a seed: incompressible, reproducible, fast) and reports the SHA-256 of what it
 * sent; the receiver accepts one connection and reports the SHA-256 and byte count of what
 * arrived. Equal digests and counts prove the bytes crossed the path unchanged. Both sides are
 * bounded in time and run as `node nstool.js` under `ip netns exec` (see nstool.ts); this module
 * holds the primitives they run and the orchestration (`startTransfer`, `transfer`).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { IroError } from '../util/errors.js';
import type { Netns } from './lab.js';
import type { LabProcess } from './process.js';

/** Bytes generated per write. */
const CHUNK = 64 * 1024;
/** The receiver reports progress every time this many more bytes have arrived. */
export const PROGRESS_STEP = 1024 * 1024;
export const DEFAULT_TRANSFER_TIMEOUT_MS = 120_000;
/** Time to start node in a namespace and bind (on top of the transfer timeout). */
const STARTUP_MS = 15_000;
const KEY_INFO = 'iro-lab transfer v1\0';

/** The compiled script run in namespaces. */
export const NSTOOL_SCRIPT = fileURLToPath(new URL('./nstool.js', import.meta.url));

export interface Digest {
  readonly bytes: number;
  /** Lowercase hex SHA-256. */
  readonly sha256: string;
}

/** Generates the deterministic stream for `seed`, `total` bytes, in chunks of at most 64 KiB. */
export function* payloadChunks(seed: string, total: number): Generator<Buffer> {
  if (!Number.isSafeInteger(total) || total < 0) throw new RangeError(`bytes must be a non-negative integer, got ${total}`);
  const key = createHash('sha256').update(KEY_INFO).update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(CHUNK);
  for (let left = total; left > 0; left -= CHUNK) {
    yield cipher.update(left >= CHUNK ? zeros : zeros.subarray(0, left));
  }
}

/** The digest a correct transfer of (`seed`, `bytes`) produces, computed locally. */
export function payloadDigest(seed: string, bytes: number): Digest {
  const h = createHash('sha256');
  for (const chunk of payloadChunks(seed, bytes)) h.update(chunk);
  return { bytes, sha256: h.digest('hex') };
}

export interface ReceiveOptions {
  readonly host: string;
  /** 0 picks a free port (reported to onListening). */
  readonly port: number;
  readonly timeoutMs: number;
  readonly onListening?: (port: number) => void;
  readonly onProgress?: (bytes: number) => void;
}

export interface Received extends Digest {
  readonly remoteAddress: string;
  readonly remotePort: number;
}

/**
 * Listens on host:port, accepts one connection, hashes everything it sends until it closes its
 * side. Rejects with IroError 'ERR_IO' when `timeoutMs` passes first (the message says how many
 * bytes had arrived) or on a socket error.
 */
export function receiveOnce(options: ReceiveOptions): Promise<Received> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let nextReport = PROGRESS_STEP;
    let conn: Socket | null = null;
    const hash = createHash('sha256');
    const server = createServer();
    const fail = (message: string, cause?: unknown): void => {
      clearTimeout(timer);
      conn?.destroy();
      server.close();
      reject(new IroError('ERR_IO', message, { cause }));
    };
    const timer = setTimeout(() => fail(`receive on ${options.host}:${options.port}: timed out after ${options.timeoutMs} ms with ${bytes} bytes`), options.timeoutMs);
    server.on('error', (err) => fail(`receive on ${options.host}:${options.port}: ${err.message}`, err));
    server.once('connection', (socket) => {
      conn = socket;
      server.close();
      socket.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        if (bytes >= nextReport) {
          nextReport = bytes + PROGRESS_STEP;
          options.onProgress?.(bytes);
        }
      });
      socket.on('error', (err) => fail(`receive: connection error after ${bytes} bytes: ${err.message}`, err));
      socket.on('end', () => {
        clearTimeout(timer);
        const remoteAddress = socket.remoteAddress ?? '';
        const remotePort = socket.remotePort ?? 0;
        socket.end(() => resolve({ bytes, sha256: hash.digest('hex'), remoteAddress, remotePort }));
      });
    });
    server.listen({ host: options.host, port: options.port, exclusive: true }, () => {
      const addr = server.address();
      options.onListening?.(typeof addr === 'object' && addr !== null ? addr.port : options.port);
    });
  });
}

export interface SendOptions {
  readonly host: string;
  readonly port: number;
  /** Source address to bind to. */
  readonly localAddress?: string;
  readonly bytes: number;
  readonly seed: string;
  readonly timeoutMs: number;
}

/**
 * Connects to host:port, writes the stream for (seed, bytes) with backpressure, closes its side
 * and waits until the receiver has closed too (so "sent" means "received and acknowledged").
 * Rejects with IroError 'ERR_IO' on a timeout or a socket error.
 */
export function sendStream(options: SendOptions): Promise<Digest> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    const hash = createHash('sha256');
    const chunks = payloadChunks(options.seed, options.bytes);
    const socket = connect({ host: options.host, port: options.port, localAddress: options.localAddress });
    const fail = (message: string, cause?: unknown): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new IroError('ERR_IO', message, { cause }));
    };
    const timer = setTimeout(() => fail(`send to ${options.host}:${options.port}: timed out after ${options.timeoutMs} ms with ${sent} bytes written`), options.timeoutMs);
    socket.on('error', (err) => fail(`send to ${options.host}:${options.port}: ${err.message} after ${sent} bytes`, err));
    const pump = (): void => {
      for (;;) {
        const next = chunks.next();
        if (next.done) {
          socket.end();
          return;
        }
        hash.update(next.value);
        sent += next.value.length;
        if (!socket.write(next.value)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    socket.on('connect', pump);
    socket.resume();
    socket.on('close', (hadError) => {
      if (hadError) return;
      clearTimeout(timer);
      resolve({ bytes: sent, sha256: hash.digest('hex') });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Orchestration: both sides in namespaces

export interface TransferOptions {
  /** Namespace of the sender. */
  readonly from: Netns;
  /** Namespace of the receiver. */
  readonly to: Netns;
  /** Address the receiver listens on and the sender connects to. */
  readonly address: string;
  /** Port (default 0: the receiver picks one). */
  readonly port?: number;
  /** Source address of the sender's connection. */
  readonly sourceAddress?: string;
  readonly bytes: number;
  /** Seed of the data (default: derived from the byte count and the PID). */
  readonly seed?: string;
  /** Bound on the whole transfer, each side (default DEFAULT_TRANSFER_TIMEOUT_MS). */
  readonly timeoutMs?: number;
}

export interface TransferOutcome {
  /** What the sender wrote. */
  readonly sent: Digest;
  /** What the receiver got, and from where. */
  readonly received: Received;
  /** What a correct transfer gives, computed in this process. */
  readonly expected: Digest;
}

/** One JSON line nstool writes on stdout. */
export interface ToolEvent {
  readonly event: 'listening' | 'progress' | 'done' | 'error';
  readonly port?: number;
  readonly bytes?: number;
  readonly sha256?: string;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  /** HTTP status and body (op http). */
  readonly status?: number;
  readonly body?: string;
  readonly message?: string;
}

function parseEvent(line: string): ToolEvent | null {
  if (!line.startsWith('{')) return null;
  try {
    return JSON.parse(line) as ToolEvent;
  } catch {
    return null;
  }
}

/** Starts `node nstool.js SPEC` in `ns`. */
export function spawnNsTool(ns: Netns, spec: Record<string, unknown>, label: string): LabProcess {
  return ns.spawn(process.execPath, [NSTOOL_SCRIPT, JSON.stringify(spec)], { label });
}

/** The `done` event of a tool process; rejects with its output when it fails. */
export async function toolResult(proc: LabProcess, timeoutMs: number): Promise<ToolEvent> {
  const line = await proc.waitForLine((l) => {
    const e = parseEvent(l);
    return e?.event === 'done' || e?.event === 'error';
  }, timeoutMs, 'a result');
  const e = parseEvent(line)!;
  if (e.event === 'error') throw new IroError('ERR_IO', `${proc.label}: ${e.message ?? 'failed'}\n${proc.describe()}`);
  return e;
}

/** A transfer in progress (see startTransfer). */
export class Transfer {
  readonly receiver: LabProcess;
  readonly sender: LabProcess;
  readonly port: number;
  readonly #options: TransferOptions;
  readonly #seed: string;
  readonly #waitMs: number;

  constructor(options: TransferOptions, seed: string, receiver: LabProcess, sender: LabProcess, port: number) {
    this.#options = options;
    this.#seed = seed;
    this.receiver = receiver;
    this.sender = sender;
    this.port = port;
    this.#waitMs = (options.timeoutMs ?? DEFAULT_TRANSFER_TIMEOUT_MS) + STARTUP_MS;
  }

  /** Resolves once the receiver reports at least `bytes` received (progress is reported per MiB). */
  async waitForBytes(bytes: number, timeoutMs: number): Promise<number> {
    const line = await this.receiver.waitForLine((l) => {
      const e = parseEvent(l);
      return (e?.event === 'progress' || e?.event === 'done') && (e.bytes ?? 0) >= bytes;
    }, timeoutMs, `progress past ${bytes} bytes`);
    return parseEvent(line)!.bytes!;
  }

  /** Both sides' results; rejects with IroError 'ERR_IO' (with both outputs) when either fails. */
  async result(): Promise<TransferOutcome> {
    const [s, r] = await Promise.allSettled([toolResult(this.sender, this.#waitMs), toolResult(this.receiver, this.#waitMs)]);
    if (s.status === 'rejected' || r.status === 'rejected') {
      const why = [s, r].filter((x): x is PromiseRejectedResult => x.status === 'rejected').map((x) => (x.reason as Error).message);
      throw new IroError('ERR_IO', `transfer of ${this.#options.bytes} bytes to ${this.#options.address}:${this.port} failed:\n${why.join('\n')}`);
    }
    return {
      sent: { bytes: s.value.bytes!, sha256: s.value.sha256! },
      received: {
        bytes: r.value.bytes!,
        sha256: r.value.sha256!,
        remoteAddress: r.value.remoteAddress!,
        remotePort: r.value.remotePort!,
      },
      expected: payloadDigest(this.#seed, this.#options.bytes),
    };
  }

  /** Ends both sides by PID (SIGKILL). */
  async abort(): Promise<void> {
    await Promise.all([this.sender.stop('SIGKILL', 5000), this.receiver.stop('SIGKILL', 5000)]);
  }
}

/**
 * Starts the receiver in `to`, waits until it listens, then starts the sender in `from`.
 * Await `result()` for the outcome, or `abort()` it.
 */
export async function startTransfer(options: TransferOptions): Promise<Transfer> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TRANSFER_TIMEOUT_MS;
  const seed = options.seed ?? `${process.pid}:${options.bytes}:${Date.now()}`;
  const receiver = spawnNsTool(options.to, { op: 'recv', host: options.address, port: options.port ?? 0, timeoutMs }, 'receiver');
  const listening = await receiver.waitForLine((l) => parseEvent(l)?.event === 'listening', STARTUP_MS, 'that it listens');
  const port = parseEvent(listening)!.port!;
  const sender = spawnNsTool(
    options.from,
    { op: 'send', host: options.address, port, localAddress: options.sourceAddress, bytes: options.bytes, seed, timeoutMs },
    'sender',
  );
  return new Transfer(options, seed, receiver, sender, port);
}

/** startTransfer + result: one complete transfer. */
export async function transfer(options: TransferOptions): Promise<TransferOutcome> {
  return (await startTransfer(options)).result();
}
