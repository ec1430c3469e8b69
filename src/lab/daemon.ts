/**
 * iro daemons in lab namespaces, driven the way a user drives them: `iro up CONFIG` (bin/iro.js,
 * so dist/ must be built) as a lab process, `iro show --json`, `iro roam` and `iro down` over the
 * control socket in IRO_RUN_DIR, and /metrics and /healthz read from inside the namespace.
 * Shared by `iro demo`, the end-to-end tests and the handover benchmark.
 */
import { fileURLToPath } from 'node:url';
import { IroError } from '../util/errors.js';
import { httpGetIn } from './http.js';
import type { Netns } from './lab.js';
import type { ExitStatus, LabProcess } from './process.js';

/** bin/iro.js of the checkout this module was compiled in (dist/src/lab/ -> the root). */
export const IRO_BIN = fileURLToPath(new URL('../../../bin/iro.js', import.meta.url));
/** The `Metrics =` port lab configs use (each daemon has a namespace, hence a loopback, of its own). */
export const METRICS_PORT = 9469;
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;
const CLI_TIMEOUT_MS = 30_000;

/** An SA as `iro show --json` reports it. */
export interface ShownSa {
  readonly spi: string;
  readonly direction: string;
  readonly mode: string;
  readonly peer: string;
  readonly packets: number;
  readonly bytes: number;
  readonly drops: Readonly<Record<string, number>>;
  readonly sequence: { readonly hi: number; readonly lo: number };
  readonly identities: { readonly local: string; readonly peer: string };
  readonly locators: { readonly local: string | null; readonly peer: string | null };
}

/** A peer as `iro show --json` reports it; `binding` depends on the role (mobility.ts bindingOf). */
export interface ShownPeer {
  readonly name: string;
  readonly role: string;
  readonly viaHome: boolean;
  readonly binding: Readonly<Record<string, unknown>> | null;
}

export interface ShowJson {
  readonly interface: string;
  readonly role?: string;
  readonly peers?: readonly ShownPeer[];
  readonly sas: readonly ShownSa[];
}

function spiText(spi: number): string {
  return '0x' + spi.toString(16).padStart(8, '0');
}

/** The SA with `spi` in a show result; throws IroError 'ERR_STATE' (with the JSON) when it is not there. */
export function findSa(show: ShowJson, spi: number): ShownSa {
  const sa = show.sas.find((s) => Number(s.spi) === spi);
  if (!sa) throw new IroError('ERR_STATE', `no SA ${spiText(spi)} in iro show: ${JSON.stringify(show)}`);
  return sa;
}

/** The peer named `name` in a show result; throws IroError 'ERR_STATE' when it is not there. */
export function findPeer(show: ShowJson, name: string): ShownPeer {
  const p = show.peers?.find((x) => x.name === name);
  if (!p) throw new IroError('ERR_STATE', `no peer ${name} in iro show: ${JSON.stringify(show)}`);
  return p;
}

export interface StartOptions {
  /** IRO_RUN_DIR for the control socket. */
  readonly runDir: string;
  /** Pass --native-free on the command line. */
  readonly nativeFreeFlag?: boolean;
}

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node bin/iro.js ARGS` in `ns`, to completion (`prefix`: a wrapper such as setpriv). Never throws for an exit status. */
export function iroCli(ns: Netns, args: readonly string[], runDir: string, prefix: readonly string[] = []): Promise<CliResult> {
  const [cmd, ...rest] = [...prefix, process.execPath, IRO_BIN, ...args];
  return ns.exec(cmd!, rest, { env: { IRO_RUN_DIR: runDir }, allowFailure: true, timeoutMs: CLI_TIMEOUT_MS });
}

/** One `iro up` running in a namespace. */
export class IroDaemon {
  readonly ns: Netns;
  readonly config: string;
  /** The interface name (the config file's base name). */
  readonly name: string;
  readonly runDir: string;
  readonly proc: LabProcess;

  private constructor(ns: Netns, config: string, runDir: string, proc: LabProcess) {
    this.ns = ns;
    this.config = config;
    this.name = config.slice(config.lastIndexOf('/') + 1).replace(/\.conf$/, '');
    this.runDir = runDir;
    this.proc = proc;
  }

  /** Starts `iro up CONFIG` in `ns` (it logs JSON lines on stderr); the lab ends it at teardown. */
  static start(ns: Netns, config: string, options: StartOptions): IroDaemon {
    const args = [IRO_BIN, 'up', config, ...(options.nativeFreeFlag ? ['--native-free'] : [])];
    const proc = ns.spawn(process.execPath, args, { label: `iro up ${config.slice(config.lastIndexOf('/') + 1)}`, env: { IRO_RUN_DIR: options.runDir } });
    return new IroDaemon(ns, config, options.runDir, proc);
  }

  /** Waits for the `"msg":"iro up"` log line, then for /healthz to answer 200; IroError otherwise. */
  async ready(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    await this.proc.waitForLine((l) => logMessage(l) === 'iro up', timeoutMs, 'its "iro up" log line');
    const h = await httpGetIn(this.ns, `http://127.0.0.1:${METRICS_PORT}/healthz`);
    if (h.status !== 200) throw new IroError('ERR_STATE', `/healthz answered ${h.status}: ${h.body}\n${this.proc.describe()}`);
  }

  /** The Prometheus text of /metrics. */
  async metrics(): Promise<string> {
    const r = await httpGetIn(this.ns, `http://127.0.0.1:${METRICS_PORT}/metrics`);
    if (r.status !== 200) throw new IroError('ERR_STATE', `/metrics answered ${r.status}\n${this.proc.describe()}`);
    return r.body;
  }

  /** `iro show NAME --json`. */
  async show(): Promise<ShowJson> {
    const r = await iroCli(this.ns, ['show', this.name, '--json'], this.runDir);
    if (r.status !== 0) throw new IroError('ERR_STATE', `iro show ${this.name} --json exited ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout) as ShowJson;
  }

  /** Sends SIGTERM or SIGINT and waits for the exit. */
  async signal(signal: 'SIGTERM' | 'SIGINT'): Promise<ExitStatus> {
    this.proc.signal(signal);
    return this.proc.wait(STOP_TIMEOUT_MS);
  }

  /** `iro down NAME`, then waits for the daemon to exit. Returns down's status and the daemon's. */
  async down(): Promise<{ downStatus: number | null; exit: ExitStatus }> {
    const r = await iroCli(this.ns, ['down', this.name], this.runDir);
    return { downStatus: r.status, exit: await this.proc.wait(STOP_TIMEOUT_MS) };
  }

  /** SIGKILL, as a crash would. */
  async kill9(): Promise<ExitStatus> {
    this.proc.signal('SIGKILL');
    return this.proc.wait(STOP_TIMEOUT_MS);
  }

  /** The log records (JSON lines) the daemon wrote so far whose `msg` is `msg`. */
  logged(msg: string): Record<string, unknown>[] {
    return this.proc.lines.filter((l) => logMessage(l) === msg).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Its error-level log lines. */
  errors(): string[] {
    return this.proc.lines.filter((l) => logMessage(l) !== null && (JSON.parse(l) as { level?: string }).level === 'error');
  }
}

/** The `msg` of a JSON log line, or null. */
export function logMessage(line: string): string | null {
  if (!line.startsWith('{')) return null;
  try {
    const rec = JSON.parse(line) as { msg?: unknown };
    return typeof rec.msg === 'string' ? rec.msg : null;
  } catch {
    return null;
  }
}

/**
 * The value of the sample `name{labels}` in Prometheus text exposition `text` (labels matched
 * as a subset, any order); null when there is no such sample.
 */
export function metricValue(text: string, name: string, labels: Readonly<Record<string, string>>): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[l[1]!] = l[2]!;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return null;
}
