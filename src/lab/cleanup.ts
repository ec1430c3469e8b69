/**
 * Cleanup registries: what a lab created, undone in reverse order of creation, whatever happens.
 *
 * A registry holds synchronous undo actions (kill a PID, delete a namespace, remove a directory).
 * They are synchronous on purpose: the last-resort paths (process 'exit', and SIGINT / SIGTERM
 * while a lab is live) cannot wait for promises. `Lab.teardown()` is the normal path and runs them
 * from a `finally`; the hooks below run whatever a registry still holds when the process ends
 * without it.
 *
 * Signals: while at least one registry that handles signals is live, SIGINT and SIGTERM run those
 * registries. When nothing else listens for that signal the process then ends the way it would
 * have without the handler (re-raised with the default disposition); when the host program has
 * its own handler, ending the process is left to it. A host that stops gracefully on signals
 * itself (e.g. `iro demo`) makes its registries with `signals: false` and tears down in its own
 * handler; the 'exit' hook still covers it.
 */

/** One undo action; `label` names it in problem reports ("delete namespace lab-123-client"). */
interface Action {
  readonly label: string;
  readonly run: () => void;
}

const live = new Set<CleanupRegistry>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
type HandledSignal = (typeof SIGNALS)[number];
let exitHook = false;
let signalHooks = false;

function runAll(registries: Iterable<CleanupRegistry>): void {
  for (const registry of [...registries]) registry.runAll();
}

function onExit(): void {
  runAll(live);
}

function onSignal(signal: HandledSignal): void {
  runAll([...live].filter((r) => r.handlesSignals));
  updateHooks();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

const signalHandlers: Record<HandledSignal, () => void> = {
  SIGINT: () => onSignal('SIGINT'),
  SIGTERM: () => onSignal('SIGTERM'),
};

/** Installs or removes the hooks so they exist exactly while some registry needs them. */
function updateHooks(): void {
  const wantExit = live.size > 0;
  const wantSignals = [...live].some((r) => r.handlesSignals);
  if (wantExit !== exitHook) {
    if (wantExit) process.on('exit', onExit);
    else process.off('exit', onExit);
    exitHook = wantExit;
  }
  if (wantSignals !== signalHooks) {
    for (const s of SIGNALS) {
      if (wantSignals) process.on(s, signalHandlers[s]);
      else process.off(s, signalHandlers[s]);
    }
    signalHooks = wantSignals;
  }
}

export interface CleanupOptions {
  /**
   * Run on SIGINT / SIGTERM (default true). A host program with its own signal handling (one
   * that calls teardown itself) passes false; the 'exit' hook still applies.
   */
  readonly signals?: boolean;
}

export class CleanupRegistry {
  readonly #actions: Action[] = [];
  readonly handlesSignals: boolean;

  constructor(options: CleanupOptions = {}) {
    this.handlesSignals = options.signals ?? true;
  }

  /**
   * Registers `run` to be called once at cleanup. Returns a function that unregisters it without
   * running it (the caller undid the thing itself). Actions run last-registered first.
   */
  add(label: string, run: () => void): () => void {
    const action: Action = { label, run };
    this.#actions.push(action);
    live.add(this);
    updateHooks();
    return () => {
      const i = this.#actions.indexOf(action);
      if (i !== -1) this.#actions.splice(i, 1);
      this.#forgetIfEmpty();
    };
  }

  /** Number of actions not yet run. */
  get size(): number {
    return this.#actions.length;
  }

  /**
   * Runs every registered action, newest first, each once. Never throws: returns one line per
   * action that threw ("LABEL: MESSAGE").
   */
  runAll(): string[] {
    const problems: string[] = [];
    while (this.#actions.length > 0) {
      const action = this.#actions.pop()!;
      try {
        action.run();
      } catch (err) {
        problems.push(`${action.label}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.#forgetIfEmpty();
    return problems;
  }

  #forgetIfEmpty(): void {
    if (this.#actions.length > 0) return;
    live.delete(this);
    updateHooks();
  }
}
