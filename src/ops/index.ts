/**
 * ops/: iro's integration with the host it runs on: start-up checks with exact fixes, the
 * privilege drop after start-up, resolver (DNS) apply/restore, the crash-safe restore journal,
 * and the checks `iro doctor` reports. May import util/ and config/ only (DESIGN.md module map).
 */
export { CAP, hasCapability, ownCapabilities, parseCapabilities, statusIds, type CapabilitySets, type CapName } from './caps.js';
export {
  checkCapabilities,
  checkClock,
  checkConfigFile,
  checkForwarding,
  checkTun,
  checkUdpPort,
  forwardingFamilies,
  neededCapabilities,
  socketHolders,
  udpSocketInodes,
  CLOCK_FLOOR_MS,
  TUN_DEVICE,
  type CapabilityNeed,
  type ConfigCheckResult,
  type SocketHolder,
} from './checks.js';
export { applyDns, detectDnsManager, resolvconfRecord, NO_DNS_FIX, type DnsHandle, type DnsManager, type DnsOptions } from './dns.js';
export { findOnPath, runCommand, type CommandResult } from './exec.js';
export { allPassed, detectRuntime, type Finding, type Runtime, type Severity } from './findings.js';
export { HostJournal, undoEntry, validateEntry, type JournalOptions, type RestoreEntry } from './journal.js';
export { DROP_USER_ENV, dropPrivileges, dropTarget, handOver, lookupUser, type DropResult, type TargetUser } from './privileges.js';
export { assertStartup, startupChecks, HostSetupError, type StartupCheckOptions } from './startup.js';
