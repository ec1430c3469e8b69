/**
 * Stand-ins for systemd-resolved's `resolvectl` and for `resolvconf`, so DNS apply/restore can
 * be tested on machines that have neither. Each is a small shell script on a private PATH that
 * appends every call to a log and keeps the resolver state it would have changed in files:
 *   resolvectl: STATE/resolved/LINK.dns ("S1 S2") and LINK.domain ("~."), removed by `revert`;
 *   resolvconf: STATE/resolvconf/RECORD (the nameserver lines given on stdin), removed by `-d`.
 * `state()` is that resolver state, so a test compares it before `iro up`, while up, and after
 * `iro down` (or after a crash and the next start): restored means equal to the state before.
 *
 * Used by test/ops/dns.test.ts and test/ops/journal.test.ts, and meant for the `iro up`/`iro down`
 * DNS test: start the daemon with `resolvers.env` as its environment.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOnPath } from '../../src/ops/index.js';

export type ResolverKind = 'resolvectl' | 'resolvconf' | 'none';

const RESOLVECTL = `#!/bin/sh
echo "resolvectl $*" >> "$FAKE_RESOLV_LOG"
[ -n "$FAKE_RESOLV_FAIL" ] && [ "$1" = "$FAKE_RESOLV_FAIL" ] && { echo "Failed to set DNS configuration: Access denied" >&2; exit 1; }
d="$FAKE_RESOLV_STATE/resolved"
mkdir -p "$d"
case "$1" in
  status) echo "Global"; exit 0 ;;
  dns) link=$2; shift 2; echo "$*" > "$d/$link.dns" ;;
  domain) link=$2; shift 2; echo "$*" > "$d/$link.domain" ;;
  revert) rm -f "$d/$2.dns" "$d/$2.domain" ;;
  *) echo "fake resolvectl: unknown verb $1" >&2; exit 1 ;;
esac
`;

const RESOLVCONF = `#!/bin/sh
echo "resolvconf $*" >> "$FAKE_RESOLV_LOG"
[ -n "$FAKE_RESOLV_FAIL" ] && [ "$1" = "$FAKE_RESOLV_FAIL" ] && { echo "resolvconf: Error: cannot write" >&2; exit 1; }
d="$FAKE_RESOLV_STATE/resolvconf"
mkdir -p "$d"
case "$1" in
  -a) cat > "$d/$2" ;;
  -d) rm -f "$d/$2" ;;
  *) echo "fake resolvconf: unknown option $1" >&2; exit 99 ;;
esac
`;

export class FakeResolvers {
  readonly kind: ResolverKind;
  readonly dir: string;
  readonly binDir: string;
  readonly stateDir: string;
  readonly logFile: string;
  /** The environment to run iro (or applyDns) with: the fake first on PATH, and its settings. */
  readonly env: NodeJS.ProcessEnv;

  /**
   * A private directory with the fake for `kind`. `failVerb` makes the fake fail on that first
   * argument (e.g. 'dns' or '-a'), as a refusing resolver would. For 'none' the PATH is only
   * that directory, holding links to `tools` (default: ip), so no real resolvectl or resolvconf
   * of the machine can be found.
   */
  constructor(kind: ResolverKind, options: { failVerb?: string; tools?: readonly string[] } = {}) {
    this.kind = kind;
    this.dir = mkdtempSync(join(tmpdir(), 'iro-fake-dns-'));
    this.binDir = join(this.dir, 'bin');
    this.stateDir = join(this.dir, 'state');
    this.logFile = join(this.dir, 'calls.log');
    mkdirSync(this.binDir);
    mkdirSync(this.stateDir);
    writeFileSync(this.logFile, '');
    if (kind !== 'none') {
      const path = join(this.binDir, kind);
      writeFileSync(path, kind === 'resolvectl' ? RESOLVECTL : RESOLVCONF);
      chmodSync(path, 0o755);
    }
    if (kind === 'none') {
      for (const tool of options.tools ?? ['ip']) {
        const real = findOnPath(tool);
        if (real === null) throw new Error(`FakeResolvers: ${tool} is not on PATH`);
        symlinkSync(real, join(this.binDir, tool));
      }
    }
    const searchPath = kind === 'none' ? this.binDir : `${this.binDir}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;
    this.env = {
      ...process.env,
      PATH: searchPath,
      FAKE_RESOLV_LOG: this.logFile,
      FAKE_RESOLV_STATE: this.stateDir,
      ...(options.failVerb !== undefined ? { FAKE_RESOLV_FAIL: options.failVerb } : {}),
    };
  }

  /** Every call made so far, as "TOOL ARGS...". */
  calls(): string[] {
    return readFileSync(this.logFile, 'utf8').split('\n').filter((l) => l !== '');
  }

  /** The resolver state: file name (resolved/LINK.dns, resolvconf/RECORD, ...) -> content. */
  state(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const sub of ['resolved', 'resolvconf']) {
      let names: string[] = [];
      try {
        names = readdirSync(join(this.stateDir, sub));
      } catch {
        continue;
      }
      for (const n of names.sort()) out[`${sub}/${n}`] = readFileSync(join(this.stateDir, sub, n), 'utf8');
    }
    return out;
  }

  /** The resolver state `iro up IFNAME` with `DNS = servers` must produce (no interface-order file). */
  expectedWhileUp(ifname: string, servers: readonly string[]): Record<string, string> {
    switch (this.kind) {
      case 'resolvectl':
        return { [`resolved/${ifname}.dns`]: `${servers.join(' ')}\n`, [`resolved/${ifname}.domain`]: '~.\n' };
      case 'resolvconf':
        return { [`resolvconf/${ifname}`]: servers.map((s) => `nameserver ${s}\n`).join('') };
      case 'none':
        return {};
    }
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
