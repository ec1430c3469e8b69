/**
 * bench/compare: iro measured side by side with the userspace incumbents (plain veth, wireguard-go,
 * strongSwan kernel-libipsec, OpenVPN) in one run, with a private Prometheus scraping iro.
 * `runCompare(options)` is the library entry; bench/compare.ts is the command line (`iro bench`,
 * `npm run bench:compare`).
 */
export { runCompare, resolveOptions, fileStamp, findRepoRoot, DEFAULT_REPS, DEFAULT_DURATION_S, QUICK_DURATION_S } from './run.js';
export { allContenders, selectContenders } from './contenders/index.js';
export { BenchError, InterruptedError, type BenchErrorCode } from './errors.js';
export { REPORT_SCHEMA } from './types.js';
export type * from './types.js';
