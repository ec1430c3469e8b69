/**
 * `iro bench [options]`: the side-by-side throughput benchmark (bench/compare.ts: plain veth,
 * iro, wireguard-go, strongSwan kernel-libipsec, OpenVPN, with a private Prometheus scraping
 * iro). It runs as its own process so its interrupt handling (everything it built is torn down
 * on Ctrl-C) is independent of this CLI.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ExitCode } from '../../util/errors.js';
import type { Command } from '../command.js';

const ENTRY = fileURLToPath(new URL('../../../bench/compare.js', import.meta.url));

const USAGE = `usage: iro bench [--quick] [--only ID,...] [--reps N] [--duration S] [--out DIR] [--list] [--no-install]

Builds two network namespaces joined by a veth pair and measures, in one run, plain veth, iro
(every suite, both back-ends, UDP and raw ESP), wireguard-go, strongSwan (kernel-libipsec) and
OpenVPN: iperf3 TCP -P 1 and -P 4, UDP at 1400 bytes, ping idle and under load, CPU per GB, with
a private Prometheus scraping iro. Writes bench/results/<date>.json, .md and .svg. Needs root;
installs what it needs from Debian's packages (or says which command to run).
Run \`iro bench --help\` for every option.
`;

export const benchCommand: Command = {
  name: 'bench',
  summary: 'compare throughput with OpenVPN, wireguard-go and strongSwan in one run',
  usage: USAGE,
  run(args) {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [ENTRY, ...args], { stdio: 'inherit' });
      // Ctrl-C reaches the whole foreground process group; the benchmark cleans up and exits.
      const ignore = (): void => undefined;
      process.on('SIGINT', ignore);
      process.on('SIGTERM', ignore);
      child.on('exit', (code, signal) => {
        process.off('SIGINT', ignore);
        process.off('SIGTERM', ignore);
        resolve(code ?? (signal === 'SIGINT' ? 130 : ExitCode.FAILURE));
      });
    });
  },
};
