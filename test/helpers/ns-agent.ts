/**
 * Child-process agent for tests that need code inside a network namespace or under reduced
 * privileges (test/helpers/netns.ts starts it and documents the protocol). It reads one JSON
 * request per line on stdin, `{ id, op, args }`, and answers `{ id, result }` or
 * `{ id, error: { name, code, message, fix } }` on stdout. It holds at most one Transport, reads
 * it continuously once opened, and exits when stdin closes.
 *
 * It does nothing unless IRO_NS_AGENT=1 (AGENT_ENV), so running it by accident (a test runner collecting
 * every file under test/) is harmless.
 */
import { createInterface } from 'node:readline';
import { PacketBatch } from '../../src/packet/batch.js';
import { formatIp, parseIp } from '../../src/util/addr.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import type { Transport } from '../../src/io/ports.js';
import { openUdp } from '../../src/io/udp.js';
import { openRaw } from '../../src/io/raw.js';
import { openDgram } from '../../src/io/dgram.js';
import { openTun } from '../../src/io/tun.js';
import { AGENT_ENV } from './netns.js';

/** A packet to send: ESP (or any payload) bytes, destination, optional source. */
export interface WirePacket {
  hex: string;
  addr: string;
  port?: number;
  local?: string;
}

/** A packet received, with the metadata the Transport reported. */
export interface ReceivedPacket {
  hex: string;
  addr: string;
  port: number;
  family: number;
  local: string;
  hopLimit: number;
}

export interface RecvResult {
  packets: ReceivedPacket[];
  tally: { keepalivesIn: number; ikeIn: number; malformedIn: number };
  /** Packets returned by each read() that returned any. */
  batches: number[];
}

const LAYOUT = { capacity: 64, slotSize: 2048, headroom: 64 };

let transport: Transport | null = null;
const received: ReceivedPacket[] = [];
const batches: number[] = [];
let onReceived: (() => void) | null = null;

function addrText(b: Uint8Array, i: number, family: number): string {
  return formatIp(b.subarray(16 * i, 16 * i + (family === 4 ? 4 : 16)));
}

function drain(t: Transport, batch: PacketBatch): void {
  const n = t.read(batch);
  if (n === 0) return;
  batches.push(n);
  for (let i = 0; i < n; i++) {
    const family = batch.family[i]!;
    received.push({
      hex: toHex(batch.packet(i)),
      addr: addrText(batch.addr, i, family),
      port: batch.port[i]!,
      family,
      local: addrText(batch.localAddr, i, family),
      hopLimit: batch.hopLimit[i]!,
    });
  }
  onReceived?.();
}

function parse(text: string): Uint8Array {
  const a = parseIp(text);
  if (!a) throw new RangeError(`not an address: ${text}`);
  return a;
}

/** Sends every packet, waiting for onWritable after a short write. `writes` lists what each
 * write() returned (an entry below the packet count means the socket was full). */
async function sendAll(t: Transport, packets: WirePacket[]): Promise<{ status: number[]; writes: number[] }> {
  const batch = new PacketBatch({ ...LAYOUT, capacity: Math.max(1, packets.length) });
  batch.reset();
  for (const p of packets) {
    const i = batch.push(fromHex(p.hex));
    batch.setAddress(i, parse(p.addr), p.port ?? 0);
    batch.setLocalAddress(i, p.local ? parse(p.local) : new Uint8Array(0));
  }
  const writes = [t.write(batch, 0)];
  while (writes[writes.length - 1]! < batch.count) {
    await new Promise<void>((resolve) => t.onWritable(resolve));
    writes.push(t.write(batch, writes[writes.length - 1]!));
  }
  return { status: Array.from(batch.status.subarray(0, batch.count)), writes };
}

function waitFor(count: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done(): void {
      clearTimeout(timer);
      onReceived = null;
      resolve();
    }
    onReceived = () => {
      if (received.length >= count) done();
    };
    onReceived();
  });
}

type Args = Record<string, unknown>;

const ops: Record<string, (args: Args) => Promise<unknown>> = {
  async ping() {
    return {};
  },
  async open(args) {
    if (transport) throw new Error('a transport is already open');
    const family = args.family as 4 | 6;
    const kind = args.kind as string;
    const port = args.port as number | undefined;
    if (kind === 'udp') transport = openUdp({ family, port, sndbuf: args.sndbuf as number | undefined });
    else if (kind === 'raw') transport = openRaw({ family });
    else if (kind === 'dgram') transport = await openDgram({ family, addresses: args.addresses as string[], port });
    else throw new RangeError(`unknown transport kind ${kind}`);
    const t = transport;
    const batch = new PacketBatch(LAYOUT);
    t.onReadable(() => drain(t, batch));
    return { port: t.port };
  },
  async tun(args) {
    const link = openTun({ name: args.name as string });
    const name = link.name;
    await link.close();
    return { name };
  },
  async send(args) {
    if (!transport) throw new Error('no transport open');
    return sendAll(transport, args.packets as WirePacket[]);
  },
  async keepalive(args) {
    if (!transport) throw new Error('no transport open');
    const local = args.local ? parse(args.local as string) : undefined;
    transport.sendKeepalive(parse(args.addr as string), args.port as number, local);
    return {};
  },
  async recv(args): Promise<RecvResult> {
    if (!transport) throw new Error('no transport open');
    await waitFor(args.count as number, args.timeoutMs as number);
    return { packets: received.splice(0), tally: { ...transport.tally }, batches: batches.splice(0) };
  },
  async close() {
    await transport?.close();
    transport = null;
    return {};
  },
};

function reply(msg: unknown): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

if (process.env[AGENT_ENV] === '1') {
  createInterface({ input: process.stdin })
    .on('line', (line) => {
      const { id, op, args } = JSON.parse(line) as { id: number; op: string; args: Args };
      const fn = ops[op];
      (fn ? fn(args) : Promise.reject(new Error(`unknown op ${op}`))).then(
        (result) => reply({ id, result }),
        (err: { name?: string; code?: string; message?: string; fix?: string }) => {
          const { name = 'Error', code, message = String(err), fix } = err;
          reply({ id, error: { name, code, message, fix } });
        },
      );
    })
    .on('close', () => {
      void Promise.resolve(transport?.close()).then(() => process.exit(0));
    });
}
