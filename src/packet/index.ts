/**
 * packet/: allocation-free parse and build of IPv4 (RFC 791), IPv6 and its extension headers
 * (RFC 8200, RFC 6275 §6.3/§6.4), UDP (RFC 768), upper-layer checksums (RFC 1071/1624), the
 * ESP header and trailer framing (RFC 4303 §2), the Mobility Header (RFC 6275 §6.1, RFC 5555,
 * RFC 5096), the flow tuple (RFC 4301 §4.4.1.1) and the PacketBatch that carries packets between
 * threads.
 */
export * from './batch.js';
export * from './constants.js';
export * from './esp.js';
export * from './flow.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './l4checksum.js';
export * from './mh.js';
export * from './udp.js';
