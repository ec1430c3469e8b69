/**
 * The flow tuple the SPD classifies on (RFC 4301 §4.4.1.1 selectors): addresses, next-layer
 * protocol, and ports, ICMP type/code or MH type. Extraction never allocates: it fills a
 * caller-owned FlowTuple.
 */

export interface FlowTuple {
  /** 4 or 6; 0 when the packet could not be parsed. */
  family: 0 | 4 | 6;
  /** Source and destination addresses (4 or 16 bytes used; buffers are 16 bytes, reused). */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** Upper-layer protocol after walking IPv6 extension headers (RFC 4301 §4.4.1.1 "Next Layer Protocol"). */
  proto: number;
  /** TCP/UDP/SCTP ports; for ICMP/ICMPv6: srcPort = type, dstPort = code (RFC 4301 §4.4.1.1); for MH: srcPort = MH type. 0 when absent. */
  srcPort: number;
  dstPort: number;
  /** Offset of the upper-layer header from the start of the packet (the transport-mode split point). */
  l4Offset: number;
  /** True when the packet is a non-first fragment (ports are unavailable, RFC 4301 §4.4.1 "OPAQUE"). */
  fragment: boolean;
}

export function newFlowTuple(): FlowTuple {
  return {
    family: 0,
    src: new Uint8Array(16),
    dst: new Uint8Array(16),
    proto: 0,
    srcPort: 0,
    dstPort: 0,
    l4Offset: 0,
    fragment: false,
  };
}
