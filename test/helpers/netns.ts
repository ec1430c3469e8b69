/**
 * Network-namespace lab for tests that cross a real network (LAB.md "Namespaces"): namespaces,
 * veth pairs and addresses made with iproute2, named per process and call so parallel or crashed
 * runs never collide, and always deleted — by `Lab.cleanup()` in a test's `after`/`finally`, and
 * by a process 'exit' hook as a last resort.
 *
 * A Node process cannot move itself into a namespace, so code that must run inside one runs in
 * an agent child (test/helpers/ns-agent.ts) started under `ip netns exec`: the test sends it
 * JSON-line requests (open a Transport, send, receive) and asserts on the replies. Every call
 * has a timeout; agents are killed at cleanup.
 *
 * Needs root (the test machines are root). Addresses: documentation ranges only.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';

const AGENT = join(dirname(new URL(import.meta.url).pathname), 'ns-agent.js');
/** Environment marker the agent checks, so it does nothing when run any other way. */
export const AGENT_ENV = 'IRO_NS_AGENT';
const DEFAULT_CALL_TIMEOUT_MS = 10_000;

let counter = 0;

/** A name unique to this process and call, at most 15 bytes (IFNAMSIZ - 1). */
export function uniqueName(tag: string): string {
  const name = `i${process.pid.toString(36)}${tag}${(counter++).toString(36)}`;
  if (name.length > 15) throw new RangeError(`name ${name} is longer than 15 bytes: shorten the tag`);
  return name;
}

/** Runs a command, returning stdout; throws with stderr on a non-zero exit. */
export function run(cmd: string, args: readonly string[], timeoutMs = 20_000): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

export function ip(...args: string[]): string {
  return run('ip', args);
}

/** Runs `cmd args` inside namespace `ns`. */
export function nsRun(ns: string, cmd: string, args: readonly string[], timeoutMs?: number): string {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs);
}

const liveLabs = new Set<Lab>();
process.on('exit', () => {
  for (const lab of liveLabs) lab.cleanupSync();
});

/** Everything one test file creates; `cleanup()` deletes it all, whatever state it is in. */
export class Lab {
  private readonly namespaces: string[] = [];
  private readonly rootLinks: string[] = [];
  private readonly agents: Agent[] = [];

  constructor() {
    liveLabs.add(this);
  }

  /** A new namespace with `lo` up. */
  netns(tag: string): string {
    const ns = uniqueName(tag);
    ip('netns', 'add', ns);
    this.namespaces.push(ns);
    nsRun(ns, 'ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** A veth pair with one end in each namespace, both up. Returns the two interface names. */
  veth(nsA: string, nsB: string): { a: string; b: string } {
    const a = uniqueName('va');
    const b = uniqueName('vb');
    ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
    this.rootLinks.push(a);
    ip('link', 'set', a, 'netns', nsA);
    ip('link', 'set', b, 'netns', nsB);
    this.rootLinks.pop();
    nsRun(nsA, 'ip', ['link', 'set', a, 'up']);
    nsRun(nsB, 'ip', ['link', 'set', b, 'up']);
    return { a, b };
  }

  /** Remembers a link in the root namespace (e.g. a TUN before it moves) for cleanup. */
  trackRootLink(name: string): void {
    this.rootLinks.push(name);
  }

  /** Adds `cidr` to `dev` in `ns`; IPv6 addresses skip duplicate address detection. */
  address(ns: string, dev: string, cidr: string): void {
    const args = ['addr', 'add', cidr, 'dev', dev];
    if (cidr.includes(':')) args.push('nodad');
    nsRun(ns, 'ip', args);
  }

  /** Starts an agent inside `ns`. */
  agentIn(ns: string): Promise<Agent> {
    return this.agent(['ip', 'netns', 'exec', ns]);
  }

  /** Starts an agent under a wrapper command (e.g. setpriv dropping capabilities). */
  async agent(prefix: readonly string[]): Promise<Agent> {
    const agent = new Agent(prefix);
    this.agents.push(agent);
    await agent.call('ping', {});
    return agent;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop()));
    this.cleanupSync();
  }

  /** Kills agents and deletes namespaces and links; never throws. */
  cleanupSync(): void {
    for (const a of this.agents) a.kill();
    this.agents.length = 0;
    for (const ns of this.namespaces.splice(0)) {
      try {
        ip('netns', 'delete', ns);
      } catch {
        // already gone
      }
    }
    for (const link of this.rootLinks.splice(0)) {
      try {
        ip('link', 'delete', link);
      } catch {
        // already gone
      }
    }
    liveLabs.delete(this);
  }
}

/** An error the agent reported for a request (carries the original name, code and fix). */
export class AgentError extends Error {
  readonly code: string | undefined;
  readonly errorName: string;
  readonly fix: string | undefined;

  constructor(e: { name: string; code?: string; message: string; fix?: string }) {
    super(e.message);
    this.errorName = e.name;
    this.code = e.code;
    this.fix = e.fix;
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** A child process running test/helpers/ns-agent.js, driven with JSON-line requests. */
export class Agent {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderr = '';
  private exited = false;

  constructor(prefix: readonly string[]) {
    const [cmd, ...args] = [...prefix, process.execPath, AGENT];
    this.child = spawn(cmd!, args, {
      env: { ...process.env, [AGENT_ENV]: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-4000);
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.onLine(line));
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`agent exited (${code ?? signal}) during request ${id}: ${this.stderr.trim()}`));
      }
      this.pending.clear();
    });
  }

  /** Sends a request; rejects on the agent's error (as AgentError), its death, or the timeout. */
  call<T = Record<string, unknown>>(
    op: string,
    args: Record<string, unknown>,
    timeoutMs = DEFAULT_CALL_TIMEOUT_MS,
  ): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`agent has exited: ${this.stderr.trim()}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`agent request ${op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.stdin!.write(JSON.stringify({ id, op, args }) + '\n');
    });
  }

  /** Asks the agent to exit; kills it if it does not within a second. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.kill(), 1000);
    await gone;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private onLine(line: string): void {
    let msg: { id: number; result?: unknown; error?: { name: string; code?: string; message: string; fix?: string } };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error) p.reject(new AgentError(msg.error));
    else p.resolve(msg.result);
  }
}

/** Addresses of the two-host lab (documentation ranges; host A has two of each family). */
export const HOSTS = {
  a4: '192.0.2.1',
  a4b: '192.0.2.11',
  b4: '192.0.2.2',
  a6: '2001:db8::1',
  a6b: '2001:db8::11',
  b6: '2001:db8::2',
  /** On B's subnet but assigned to nobody: neighbour resolution for it fails. */
  none4: '192.0.2.99',
} as const;

/** Two namespaces joined by a veth pair, addressed as HOSTS says. */
export function twoHosts(lab: Lab): { nsA: string; nsB: string; devA: string; devB: string } {
  const nsA = lab.netns('a');
  const nsB = lab.netns('b');
  const { a: devA, b: devB } = lab.veth(nsA, nsB);
  for (const a of [HOSTS.a4, HOSTS.a4b]) lab.address(nsA, devA, `${a}/24`);
  for (const a of [HOSTS.a6, HOSTS.a6b]) lab.address(nsA, devA, `${a}/64`);
  for (const cidr of [`${HOSTS.b4}/24`, `${HOSTS.b6}/64`]) lab.address(nsB, devB, cidr);
  return { nsA, nsB, devA, devB };
}
