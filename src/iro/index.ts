/**
 * iro/: the mobility protocol logic of IPsec Route Optimization, pure and I/O-free (STYLE 3).
 * Time is passed in (`now`, milliseconds), randomness is injected, and every entry point returns
 * the actions for the caller (the dataplane) to carry out. Imports only packet/ and util/.
 *
 * - MobileNode: the Binding Update List, movement, home and correspondent registration.
 * - HomeAgent: the binding cache fed by ESP-protected BUs (PROTOCOL.md A.10 home registration).
 * - Correspondent: unverified bindings, the CoA test, verified route optimization.
 * - cotest: the CoA test message body (byte layout in cotest.ts).
 */

export * from './actions.js';
export * from './constants.js';
export * from './cotest.js';
export * from './correspondent.js';
export * from './home-agent.js';
export * from './locator.js';
export * from './mobile-node.js';
export { NAT_POLICIES, type NatPolicy } from './registration.js';
export { Retransmitter } from './schedule.js';
