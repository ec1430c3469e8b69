/**
 * Baseline: the plain veth pair, no tunnel. What the other contenders lose against it is the cost
 * of tunnelling in userspace.
 */
import { OUTER, VETH_MTU } from '../lab.js';
import type { ContenderSpec, Tunnel } from './types.js';

export const veth: ContenderSpec = {
  id: 'veth',
  label: 'plain veth',
  kind: 'baseline',
  requires: [],
  details: { mtu: VETH_MTU },
  create(): Tunnel {
    return {
      setup: async () => ({ addressA: OUTER.a, addressB: OUTER.b, pids: [], mtu: VETH_MTU }),
      teardown: async () => undefined,
      diagnostics: () => [],
    };
  },
};
