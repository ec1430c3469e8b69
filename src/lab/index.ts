/**
 * lab/: a network-namespace lab for end-to-end tests, demos and roaming experiments. Product code
 * (imports util/ only; no test framework): `iro demo` and the test suites share it.
 *
 * What it gives:
 * - `Lab`: namespaces (`netns`), veth pairs (`link`), addresses and routes (`Netns.addAddress`,
 *   `Netns.addRoute`), sysctls, an nftables NAT (`nat`, `flushConntrack`), temp dirs, and
 *   processes run inside namespaces (`Netns.exec`, `Netns.spawn`: `ip netns exec`, never a shell).
 *   Every namespace has `lo` up, IPv6 DAD off and rp_filter off; names carry the PID.
 * - Cleanup that cannot be skipped: everything a lab creates is registered as it is created;
 *   `teardown()` (call it in `finally`) ends the lab's processes by PID (SIGTERM, then SIGKILL)
 *   and deletes its namespaces and temp dirs; process 'exit', SIGINT and SIGTERM run the same
 *   undo actions when a run ends without teardown. `sweepStaleNamespaces()` removes what a
 *   SIGKILLed run left behind.
 * - `buildTunnelTopology`: client / gateway / server (+ attacker, + NAT router) with the address
 *   plan in `ADDRESSES`.
 * - `buildRoamingTopology` (roaming.ts): a mobile node with two access networks, an internet
 *   router, a home agent, a correspondent (+ NAT router on access B, + attacker), addresses in
 *   `ROAMING`; `move('A' | 'B')` changes networks the way a laptop changing Wi-Fi does;
 *   `writeRoamingConfigs` / `startRoamingLab` write matching configs with fresh keys and start iro
 *   in each; `waitForBinding` follows bindings; `tsharkFields` reads any tshark fields.
 * - `IroDaemon` (daemon.ts): `iro up` in a namespace through bin/iro.js, with `iro show --json`,
 *   /metrics (`metricValue`), `iro down` and its log lines.
 * - `startTransfer` / `transfer`: a bounded TCP transfer of N seeded pseudo-random bytes between
 *   namespaces, with SHA-256 and byte count from both ends. `httpGetIn`: GET from a namespace.
 * - `startCapture` (tcpdump) and tshark analysis: `readPackets`, `unexpectedPackets` (anything but
 *   ESP between the locators), `espSequences` / `duplicateSequences`, ESP decryption by tshark
 *   with the configured keys (AES-GCM, no ESN).
 * - `inject`: ESP with a random SPI, a bad ICV, or replayed from a capture, crafted with Scapy.
 * - `ensureTools`: ping, tcpdump, iperf3, tshark, nft, Scapy - installed with apt-get if missing,
 *   or an error naming the exact command.
 *
 * Needs root (and iproute2's `tc` for shaped links). Only documentation addresses (192.0.2.0/24,
 * 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), only inside the lab's namespaces.
 *
 * Example:
 *   const lab = new Lab();
 *   try {
 *     const t = buildTunnelTopology(lab);
 *     const cap = await startCapture(t.gateway, t.gatewayWire);
 *     // ... start daemons with t.client.spawn(...), then:
 *     const out = await transfer({ from: t.client, to: t.server, address: ADDRESSES.home.server4, bytes: 5e6 });
 *     await cap.stop();
 *     const bad = unexpectedPackets(await readPackets(cap.file), [t.clientLocator4, t.gatewayLocator4]);
 *   } finally {
 *     await lab.teardown();
 *   }
 */
export { CleanupRegistry, type CleanupOptions } from './cleanup.js';
export {
  DEFAULT_PREFIX,
  Lab,
  Netns,
  assertLabPrivileges,
  sweepStaleNamespaces,
  type LabOptions,
  type LinkEnd,
  type NetnsOptions,
  type PingOptions,
  type PingResult,
  type RouteOptions,
  type VethOptions,
  type VethPair,
} from './lab.js';
export {
  DEFAULT_COMMAND_TIMEOUT_MS,
  LabProcess,
  commandLine,
  run,
  runSync,
  type ExitStatus,
  type RunOptions,
  type RunResult,
  type SpawnOptions,
} from './process.js';
export { ADDRESSES, buildTunnelTopology, type Topology, type TopologyOptions } from './topology.js';
export {
  DEFAULT_TRANSFER_TIMEOUT_MS,
  NSTOOL_SCRIPT,
  PROGRESS_STEP,
  Transfer,
  payloadChunks,
  payloadDigest,
  receiveOnce,
  sendStream,
  startTransfer,
  transfer,
  type Digest,
  type Received,
  type TransferOptions,
  type TransferOutcome,
} from './transfer.js';
export { httpGet, httpGetIn, type HttpResponse } from './http.js';
export {
  Capture,
  NAT_T_PORT,
  classify,
  describePackets,
  duplicateSequences,
  espSaArgs,
  espSequences,
  parseFieldsLine,
  readPackets,
  startCapture,
  unexpectedPackets,
  type CaptureOptions,
  type CaptureStats,
  type EspSaKey,
  type IpLayer,
  type ReadOptions,
  type Unexpected,
  type WireKind,
  type WirePacket,
} from './capture.js';
export { PYTHON, SCAPY_ALGORITHMS, inject, type InjectJob, type InjectTarget, type Injected } from './inject.js';
export { DEFAULT_TOOLS, LAB_TOOLS, ensureTools, findExecutable, installCommand, missingTools, type EnsureToolsOptions, type LabTool } from './tools.js';
export {
  IRO_BIN,
  IroDaemon,
  METRICS_PORT,
  findPeer,
  findSa,
  iroCli,
  logMessage,
  metricValue,
  type CliResult,
  type ShowJson,
  type ShownPeer,
  type ShownSa,
  type StartOptions,
} from './daemon.js';
export {
  ROAMING,
  ROAMING_SPI,
  RoamingTopology,
  bindingIn,
  buildRoamingTopology,
  coaIs,
  receivedSoFar,
  startRoamingLab,
  tsharkFields,
  waitForBinding,
  waitUntil,
  writeRoamingConfigs,
  type Access,
  type AccessNetwork,
  type FieldsOptions,
  type RoamingDaemons,
  type RoamingLab,
  type RoamingCipher,
  type RoamingConfigOptions,
  type RoamingConfigs,
  type RoamingOptions,
  type SaSecret,
} from './roaming.js';
