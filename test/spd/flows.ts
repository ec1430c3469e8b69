/** Test helper (not a test file): FlowTuples built directly, without packet parsing. */
import { newFlowTuple, type FlowTuple } from '../../src/packet/flow.js';
import { parseIp } from '../../src/util/addr.js';

export interface FlowSpec {
  src: string;
  dst: string;
  proto?: number;
  srcPort?: number;
  dstPort?: number;
  fragment?: boolean;
}

/** A FlowTuple for `spec`; addresses must be of one family. */
export function flow(spec: FlowSpec): FlowTuple {
  const f = newFlowTuple();
  const src = parseIp(spec.src);
  const dst = parseIp(spec.dst);
  if (!src || !dst || src.length !== dst.length) throw new Error(`bad test flow ${spec.src} -> ${spec.dst}`);
  f.family = src.length === 4 ? 4 : 6;
  f.src.set(src);
  f.dst.set(dst);
  f.proto = spec.proto ?? 0;
  f.srcPort = spec.srcPort ?? 0;
  f.dstPort = spec.dstPort ?? 0;
  f.fragment = spec.fragment ?? false;
  return f;
}
