/**
 * native-free: iro's I/O back-end with zero compiled code (DESIGN.md "Two I/O back-ends, one
 * dataplane"). The Link is a veth pair whose far end carries a macvtap, read and written through
 * /dev/tapN with node:fs; the Transport is node:dgram (src/io/). Loaded by cli/ only.
 */
export {
  DEFAULT_QUEUE_CAPACITY,
  MacvtapLink,
  NEXTHOP_V4,
  NEXTHOP_V6,
  openMacvtapLink,
  type MacvtapCounters,
  type MacvtapLinkOptions,
} from './macvtap.js';
export { MACVTAP_FIX_PRIVILEGE } from './iproute.js';
