/**
 * The macvtap reader: a worker thread that blocks in read(2) on /dev/tapN, one frame per call,
 * decodes each frame in place (frame.ts: virtio-net header, Ethernet header, partial checksum
 * finished) and publishes IP packets into the shared ring (ring.ts) in the order the kernel
 * delivered them. It owns no descriptor: the main thread opened it, writes to it, and closes it
 * after this thread has exited.
 *
 * Loop (sequential, one frame at a time):
 *   1 pick the next ring slot, or the scratch slot when the ring is full
 *   2 read(2) one frame into it (blocks until a frame arrives)
 *   3 stop if the main thread set CLOSING (it writes a wake-up frame to end the read in step 2)
 *   4 decode; count and drop what is not a queueable IP packet
 *   5 publish: TAIL + 1, and post MSG_READABLE if the ring had been empty
 */
import { readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeFrame, FrameKind, type DecodedFrame } from './frame.js';
import {
  CTL_CLOSING,
  CTL_COUNTERS,
  CTL_HEAD,
  CTL_TAIL,
  META_PER_SLOT,
  MSG_READABLE,
  WORKER_COUNTERS,
  type ReaderInit,
  type WorkerCounter,
} from './ring.js';

/** Reads failing this many times in a row mean the device is gone: stop. */
const MAX_CONSECUTIVE_READ_ERRORS = 16;

function counterIndex(name: WorkerCounter): number {
  return CTL_COUNTERS + WORKER_COUNTERS.indexOf(name);
}

const FRAMES_IN = counterIndex('framesIn');
const CHECKSUMS_FINISHED = counterIndex('checksumsFinished');
const READ_ERRORS = counterIndex('readErrors');
const TRUNCATED = counterIndex('truncated');
const QUEUE_FULL = counterIndex('queueFull');
const DROP_COUNTER: Record<number, number> = {
  [FrameKind.NON_IP]: counterIndex('nonIp'),
  [FrameKind.NEIGHBOUR]: counterIndex('neighbour'),
  [FrameKind.GSO]: counterIndex('gso'),
  [FrameKind.MALFORMED]: counterIndex('malformed'),
};

function run(init: ReaderInit): void {
  const control = new Int32Array(init.control);
  const meta = new Int32Array(init.meta);
  const store = new Uint8Array(init.store);
  const mask = init.capacity - 1;
  const decoded: DecodedFrame = { ipOffset: 0, ipLength: 0, checksumFinished: false };
  let tail = Atomics.load(control, CTL_TAIL);
  let failures = 0;
  while (Atomics.load(control, CTL_CLOSING) === 0) {
    const full = ((tail - Atomics.load(control, CTL_HEAD)) | 0) >= init.capacity;
    const slot = full ? init.capacity : tail & mask;
    const start = slot * init.slotBytes;
    let n: number;
    try {
      n = readSync(init.fd, store, start, init.readLen, null);
    } catch (err) {
      if (Atomics.load(control, CTL_CLOSING) !== 0) break;
      Atomics.add(control, READ_ERRORS, 1);
      if (++failures === MAX_CONSECUTIVE_READ_ERRORS) {
        parentPort!.postMessage({ failed: (err as Error).message });
        break;
      }
      continue;
    }
    if (Atomics.load(control, CTL_CLOSING) !== 0) break;
    failures = 0;
    Atomics.add(control, FRAMES_IN, 1);
    if (n === init.readLen) {
      Atomics.add(control, TRUNCATED, 1);
      continue;
    }
    const kind = decodeFrame(store, start, n, decoded);
    if (kind !== FrameKind.IP) {
      Atomics.add(control, DROP_COUNTER[kind]!, 1);
      continue;
    }
    if (decoded.checksumFinished) Atomics.add(control, CHECKSUMS_FINISHED, 1);
    if (full) {
      Atomics.add(control, QUEUE_FULL, 1);
      continue;
    }
    meta[slot * META_PER_SLOT] = decoded.ipOffset;
    meta[slot * META_PER_SLOT + 1] = decoded.ipLength;
    const published = tail;
    tail = (tail + 1) | 0;
    Atomics.store(control, CTL_TAIL, tail);
    if (Atomics.load(control, CTL_HEAD) === published) parentPort!.postMessage(MSG_READABLE);
  }
}

if (!parentPort) throw new Error('reader-worker.js runs only as a worker thread (started by macvtap.ts)');
run(workerData as ReaderInit);
