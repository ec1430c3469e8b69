/**
 * The contenders, in report order: the plain veth baseline, the userspace peers, then every iro
 * variant: each suite x (native with UDP and with raw ESP, native-free with UDP; native-free
 * has no raw ESP: it sends ESP through node:dgram only, and `iro up` refuses the combination).
 * `--only` picks by id or by id prefix at a `:` boundary (`iro` = every iro variant,
 * `iro:chacha20poly1305` = its three variants).
 */
import { BenchError } from '../errors.js';
import { IRO_BACKENDS, IRO_CIPHERS, IRO_ENCAPSULATIONS, iro } from './iro.js';
import { openvpn } from './openvpn.js';
import { strongswan } from './strongswan.js';
import type { ContenderSpec } from './types.js';
import { veth } from './veth.js';
import { wireguardGo } from './wireguard.js';

export function allContenders(): ContenderSpec[] {
  const list: ContenderSpec[] = [veth, wireguardGo, strongswan('aes128gcm16'), strongswan('chacha20poly1305'), openvpn];
  for (const cipher of IRO_CIPHERS) {
    for (const backend of IRO_BACKENDS) {
      for (const encapsulation of IRO_ENCAPSULATIONS) {
        if (backend === 'native-free' && encapsulation === 'esp') continue;
        list.push(iro(cipher, backend, encapsulation));
      }
    }
  }
  return list;
}

/** True when `pattern` names `id` or a `:`-prefix of it. */
export function matches(id: string, pattern: string): boolean {
  return id === pattern || id.startsWith(pattern + ':');
}

/**
 * The contenders selected by `only` (all when empty), in report order. Throws ERR_BENCH_USAGE
 * for a pattern that selects nothing, listing the ids.
 */
export function selectContenders(only: readonly string[]): ContenderSpec[] {
  const all = allContenders();
  if (only.length === 0) return all;
  for (const p of only) {
    if (!all.some((c) => matches(c.id, p))) {
      throw new BenchError('ERR_BENCH_USAGE', `--only ${p} selects no contender; ids: ${all.map((c) => c.id).join(', ')}`);
    }
  }
  return all.filter((c) => only.some((p) => matches(c.id, p)));
}
