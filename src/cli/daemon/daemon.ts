/**
 * The composition root of `iro up`: from a validated config to a running dataplane.
 *
 * Start-up, in order (each step undone by `stop`, in reverse, also after a failure midway):
 *   1 state file (sequence reservations: no nonce is reused across restarts)
 *   2 SAD, SPD and the workers' key table from the config            (tables.ts)
 *   3 the tunnel interface: TUN (native) or macvtap (native-free); addresses, MTU, routes
 *   4 the wire: UDP 4500 (and raw ESP) sockets                         (transports.ts)
 *   5 the crypto pool, the dataplane, the mobility agent
 *   6 /metrics + /healthz, the control socket
 * `stop` reverses them: reading stops, in-flight batches finish, state is flushed, the interface
 * (and with it its routes) disappears, keys are wiped.
 */
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import type { IroConfig } from '../../config/types.js';
import { controlSocketPath, startControlServer, type ControlServer } from '../../control/index.js';
import { Dataplane } from '../../dataplane/dataplane.js';
import type { DataplanePeer } from '../../dataplane/types.js';
import type { Link } from '../../io/ports.js';
import { openTun } from '../../io/tun.js';
import { createMetrics, startMetricsServer, type IroMetrics, type MetricsServer } from '../../metrics/index.js';
import { DEFAULT_HEADROOM } from '../../packet/batch.js';
import { CryptoPool } from '../../pool/index.js';
import { KeyTable } from '../../pool/keytable.js';
import { applyDns, assertStartup, dropPrivileges, handOver, HostJournal, lookupUser, startupChecks, type DnsHandle } from '../../ops/index.js';
import { StateStore } from '../../state/index.js';
import { formatIp, formatPrefix, type Prefix } from '../../util/addr.js';
import { IroError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import { openMacvtapLink } from '../../../native-free/index.js';
import { packageVersion } from '../version.js';
import { addRoutes, configureTun, deriveMtu, installPolicyRouting, type PolicyRouting } from './netsetup.js';
import { DaemonMetricsSource } from './source.js';
import { buildTables, type Tables } from './tables.js';
import { checkTransportConfig, openTransports, type Transports } from './transports.js';
import { Mobility } from './mobility.js';

/** Bytes after a packet in a slot: ESP padding (3), pad length, next header, ICV (16). */
const TAILROOM = 24;
/** Batches in flight per direction (backpressure beyond). */
const MAX_INFLIGHT = 4;
/** Key-table slots per peer: payload and signalling pairs, plus room for a rekey of each. */
const SLOTS_PER_PEER = 8;

export interface DaemonOptions {
  readonly config: IroConfig;
  readonly nativeFree: boolean;
  readonly log: Logger;
  /** User to drop to after every privileged open (`--user`, else $IRO_USER; null = stay). */
  readonly user: string | null;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Worker threads for `Workers = auto`: on two cores or fewer the main thread seals faster than
 * it can hand batches over (measured with `iro bench`), beyond that one worker per spare core. */
export function autoWorkers(): number {
  const n = cpus().length;
  return n <= 2 ? 0 : Math.min(4, n - 2);
}

export class Daemon {
  readonly config: IroConfig;
  readonly log: Logger;
  readonly nativeFree: boolean;
  private readonly user: string | null;
  private journal: HostJournal | null = null;
  private dns: DnsHandle | null = null;
  private state: StateStore | null = null;
  private tables: Tables | null = null;
  private link: Link | null = null;
  private routing: PolicyRouting | null = null;
  private transports: Transports | null = null;
  private pool: CryptoPool | null = null;
  private dataplane: Dataplane | null = null;
  private mobility: Mobility | null = null;
  private metrics: IroMetrics | null = null;
  private metricsServer: MetricsServer | null = null;
  private control: ControlServer | null = null;
  private stopping: Promise<void> | null = null;
  private resolveStopped!: () => void;
  /** Resolves once the daemon has stopped (after `stop`, or a `down` over the control socket). */
  readonly stopped: Promise<void> = new Promise((r) => (this.resolveStopped = r));
  mtu = 0;

  private constructor(options: DaemonOptions) {
    this.config = options.config;
    this.log = options.log;
    this.nativeFree = options.nativeFree;
    this.user = options.user;
  }

  /** Starts everything; on failure, undoes what was started and rethrows. */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(options);
    try {
      await d.startSteps();
    } catch (err) {
      await d.stop('start-up failed');
      throw err;
    }
    return d;
  }

  private async startSteps(): Promise<void> {
    const { config, log } = this;
    const iface = config.interface;
    const name = config.interfaceName;

    checkTransportConfig(config, this.nativeFree);
    // Before anything is opened: the exact fix for a missing device, capability or sysctl.
    const target = this.user === null ? null : lookupUser(this.user);
    assertStartup(startupChecks(config, { dropUser: target !== null && target.uid !== process.geteuid?.() }));
    this.journal = HostJournal.open(iface.stateDir, name, log);
    this.journal.recover();
    const journal = this.journal;
    this.state = StateStore.open(iface.stateDir, name);
    const keys = new KeyTable(Math.max(64, SLOTS_PER_PEER * config.peers.length));
    // native-free means no compiled code at all: node:crypto, not the addon's AEAD.
    const crypto = this.nativeFree ? 'node' : 'auto';
    this.tables = buildTables(config, { keys, state: this.state, backend: crypto });
    const tables = this.tables;

    this.mtu = await deriveMtu(config, tables.identities, log);
    const addresses: Prefix[] = iface.role === 'mobile-node' ? [...iface.homeAddresses] : [...iface.addresses];
    let link: Link;
    const routes = config.peers.flatMap((p) => p.allowedIPs);
    this.routing = await installPolicyRouting(
      name,
      {
        listenPort: iface.listenPort,
        raw: config.peers.some((p) => p.encapsulation === 'esp'),
        fullTunnel: iface.role === 'mobile-node' && routes.some((r) => r.len === 0),
      },
      journal,
      log,
    );
    const table = this.routing.table;
    if (this.nativeFree) {
      const mv = await openMacvtapLink({ name, mtu: this.mtu, addresses: addresses.map(formatPrefix), log, tailroom: TAILROOM });
      link = mv;
      this.link = link;
      // The macvtap is reached through a fixed next hop (native-free/macvtap.ts), so its routes
      // are its own to add.
      for (const r of routes) await mv.addRoute(formatPrefix(r), table);
    } else {
      link = openTun({ name, tailroom: TAILROOM, log });
      this.link = link;
      await configureTun(link.name, addresses, this.mtu);
      await addRoutes(link.name, routes, table, log);
    }

    this.transports = await openTransports(config, this.nativeFree, log);

    const source = new DaemonMetricsSource(
      { version: packageVersion(), nodeVersion: process.version, backend: this.nativeFree ? 'native-free' : 'native', crypto: this.cryptoName() },
      () => this.tables?.peers ?? [],
      () => this.dataplane,
      () => this.mobility,
      () => this.pool?.queueDepth() ?? 0,
    );
    this.metrics = createMetrics(source);
    const metrics = this.metrics;
    const threads = iface.workers === 'auto' ? autoWorkers() : iface.workers;
    this.pool = new CryptoPool({
      threads,
      keys,
      backend: crypto,
      onTask: (op, seconds, packets) => metrics.observePoolTask(op, seconds, packets),
    });

    const slotSize = Math.max(2048, align8(DEFAULT_HEADROOM + Math.max(this.mtu, 1500) + 64 + TAILROOM));
    this.mobility = new Mobility({
      config,
      tables,
      state: this.state,
      log,
      onHandover: (peer, seconds) => metrics.observeHandover(peer, seconds),
    });
    const mobility = this.mobility;
    this.dataplane = new Dataplane({
      link,
      transports: this.transports,
      crypto: this.pool,
      sad: tables.sad,
      spd: tables.spd,
      peers: tables.peers,
      identities: tables.identities,
      listenPort: iface.listenPort,
      layout: { capacity: iface.batchSize, slotSize, headroom: DEFAULT_HEADROOM },
      maxInflight: MAX_INFLIGHT,
      reservation: (sa) => tables.reservations.get(sa.slot),
      onMh: (peer, mh, arrival) => mobility.receive(peer, mh, arrival),
      onHandover: (peer, gap) => mobility.dataPathMoved(peer, gap),
      log,
    });
    this.dataplane.start();
    await this.mobility.start(this.dataplane, this.transports);

    if (iface.metrics !== null) {
      this.metricsServer = await startMetricsServer({
        host: formatIp(iface.metrics.address),
        port: iface.metrics.port,
        registry: metrics.registry,
        health: () => ({ ok: this.dataplane !== null && this.stopping === null, details: { peers: this.peerStates() } }),
        log,
      });
    }
    this.control = await startControlServer(controlSocketPath(name), (cmd, args) => this.handleControl(cmd, args));
    this.dns = applyDns(link.name, iface.dns, log, { journal });
    if (target !== null) {
      // Every privileged open is done: the TUN, the sockets, the listeners. From here on the
      // process cannot reopen or reconfigure anything (ops/privileges.ts).
      handOver([iface.stateDir, dirname(this.control.path)], target);
      dropPrivileges(target, log);
    }
    log.info('iro up', {
      interface: link.name,
      role: iface.role,
      backend: this.nativeFree ? 'native-free' : 'native',
      crypto: this.cryptoName(),
      workers: threads,
      mtu: this.mtu,
      peers: config.peers.length,
      metrics: this.metricsServer?.url ?? 'off',
      control: this.control.path,
    });
  }

  private cryptoName(): string {
    const sa = this.tables?.peers[0]?.payloadOut;
    return sa?.aead.backend ?? 'node';
  }

  private peerStates(): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    for (const p of this.tables?.peers ?? []) out[p.name] = p.payloadOut.installed;
    return out;
  }

  /** `iro show --json`: SAs, peers, counters, bindings. Never key material. */
  show(): unknown {
    const t = this.tables;
    const dp = this.dataplane;
    return {
      interface: this.link?.name ?? this.config.interfaceName,
      role: this.config.interface.role,
      backend: this.nativeFree ? 'native-free' : 'native',
      crypto: this.cryptoName(),
      mtu: this.mtu,
      workers: this.pool?.threads ?? 0,
      peers: (t?.peers ?? []).map((p: DataplanePeer) => ({
        name: p.name,
        role: p.role,
        cipher: p.cipher,
        viaHome: p.viaHome,
        binding: this.mobility?.bindingOf(p.name) ?? null,
      })),
      sas: (t?.sad.list() ?? []).map((sa) => sa.info()),
      counters: dp
        ? {
            tunReadPackets: dp.counters.tunReadPackets,
            tunReadBytes: dp.counters.tunReadBytes,
            tunWrittenPackets: dp.counters.tunWrittenPackets,
            tunWrittenBytes: dp.counters.tunWrittenBytes,
          }
        : null,
    };
  }

  private async handleControl(cmd: string, args: Record<string, unknown>): Promise<unknown> {
    switch (cmd) {
      case 'show':
        return this.show();
      case 'down':
        setImmediate(() => void this.stop('iro down'));
        return { stopping: true };
      case 'roam': {
        if (this.mobility === null) throw new IroError('ERR_STATE', 'the daemon is not running');
        return this.mobility.roam(args['coa']);
      }
      default:
        throw new IroError('ERR_USAGE', `unknown control command ${JSON.stringify(cmd)} (show, down, roam)`);
    }
  }

  /** Stops everything that was started (idempotent). */
  stop(reason: string): Promise<void> {
    if (this.stopping === null) this.stopping = this.stopSteps(reason);
    return this.stopping;
  }

  private async stopSteps(reason: string): Promise<void> {
    const log = this.log;
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        log.error(`stopping: ${what} failed`, { err });
      }
    };
    await step('control socket', () => this.control?.close());
    await step('mobility', () => this.mobility?.stop());
    await step('dataplane', () => this.dataplane?.stop());
    await step('state', () => this.state?.flush());
    await step('metrics', () => this.metricsServer?.close());
    await step('transports', () => this.transports?.close());
    await step('crypto pool', () => this.pool?.close());
    await step('dns', () => this.dns?.restore());
    await step('interface', () => this.link?.close());
    await step('policy routing', () => this.routing?.remove());
    await step('keys', () => this.tables?.sad.removeAll());
    log.info('iro down', { interface: this.config.interfaceName, reason });
    this.resolveStopped();
  }
}
