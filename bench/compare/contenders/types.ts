/**
 * What a contender is. Each one is a small module: a spec (id, label, what it needs from Debian,
 * static details) whose `create()` returns a fresh Tunnel for one repetition. `setup(lab)` brings
 * the tunnel up between namespaces A and B and says which addresses to measure between and which
 * processes do the tunnelling (their CPU time is measured); `teardown()` stops those processes by
 * PID and removes whatever setup added, and must work after a setup that failed halfway.
 */
import type { Requirement } from '../install.js';
import type { Lab } from '../lab.js';
import type { EspFraming } from '../prometheus.js';
import { outputGist, type Proc } from '../session.js';

/** `baseline`: plain veth; `peer`: another userspace tunnel; `iro`: what is being compared. */
export type ContenderKind = 'baseline' | 'peer' | 'iro';

export interface TunnelInfo {
  /** Address in namespace A that iperf3 and ping bind to. */
  readonly addressA: string;
  /** Address in namespace B they talk to. */
  readonly addressB: string;
  /** PIDs of the tunnel processes (both sides). */
  readonly pids: readonly number[];
  /** MTU of the tunnel device (the veth's for the baseline). */
  readonly mtu: number;
  /** iro: the port of each side's /metrics and /healthz on that side's loopback. */
  readonly metricsPort?: number;
  /** Facts learned while setting up (negotiated cipher, versions), copied into the report. */
  readonly notes?: Readonly<Record<string, string>>;
}

export interface ProcessGist {
  readonly name: string;
  /** `still running`, `exited with status N`, `killed by SIGNAL`. */
  readonly status: string;
  /** The first and last lines of its output (see outputGist). */
  readonly gist: string;
}

export interface Tunnel {
  setup(lab: Lab): Promise<TunnelInfo>;
  teardown(): Promise<void>;
  /** What each tunnel process printed (its gist), to explain a failure. */
  diagnostics(): readonly ProcessGist[];
}

/** What contenders may need from the harness. */
export interface ContenderEnv {
  /** The repository root (where bin/iro.js is). */
  readonly repoRoot: string;
  /** The command that runs iro's CLI, e.g. [node, <repo>/bin/iro.js]. */
  readonly iroCommand: readonly string[];
}

export interface ContenderSpec {
  /** Stable identifier, `:`-separated from general to specific, e.g. `iro:aes128gcm16:native:udp`. */
  readonly id: string;
  readonly label: string;
  readonly kind: ContenderKind;
  readonly requires: readonly Requirement[];
  /** Static description copied into the report (cipher, encapsulation, backend, MTU). */
  readonly details: Readonly<Record<string, string | number>>;
  /** iro only: how iro frames ESP, for converting its byte counters (prometheus.ts). */
  readonly framing?: EspFraming;
  create(env: ContenderEnv): Tunnel;
}

/**
 * The common part of a tunnel: the processes it started and the undo steps of its setup, both
 * unwound in reverse order by teardown() (processes first, stopped by PID).
 */
export abstract class ProcessTunnel implements Tunnel {
  protected readonly procs: Proc[] = [];
  readonly #undo: (() => Promise<unknown>)[] = [];

  abstract setup(lab: Lab): Promise<TunnelInfo>;

  /** Registers a step that reverts part of the setup. */
  protected onTeardown(step: () => Promise<unknown>): void {
    this.#undo.push(step);
  }

  diagnostics(): ProcessGist[] {
    return this.procs
      .map((p) => ({ name: p.name, status: p.status, gist: outputGist(p.stderr + '\n' + p.stdout) }))
      .filter((d) => d.gist !== '');
  }

  async teardown(): Promise<void> {
    const errors: unknown[] = [];
    for (const p of this.procs.splice(0).reverse()) await p.stop().catch((e: unknown) => errors.push(e));
    for (const step of this.#undo.splice(0).reverse()) await step().catch((e: unknown) => errors.push(e));
    if (errors.length > 0) throw errors[0];
  }
}
