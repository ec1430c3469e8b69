/**
 * Error classes with stable codes. Anything that crosses an API boundary throws one of these;
 * tests match on `code`, never on the message. The data path never throws per packet: it counts
 * a DropReason instead (see drop.ts).
 */

export type IroErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_PRIVILEGE'
  | 'ERR_USAGE'
  | 'ERR_SPI_RESERVED'
  | 'ERR_SPI_IN_USE'
  | 'ERR_SA_EXPIRED'
  | 'ERR_SEQ_EXHAUSTED'
  | 'ERR_BAD_KEY'
  | 'ERR_BAD_SUITE'
  | 'ERR_AUTH_FAILED'
  | 'ERR_REPLAY'
  | 'ERR_MALFORMED'
  | 'ERR_NATIVE'
  | 'ERR_IO'
  | 'ERR_STATE'
  | 'ERR_CONTROL';

export class IroError extends Error {
  readonly code: IroErrorCode;

  constructor(code: IroErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IroError';
    this.code = code;
  }
}

/** One problem found in a config file: where it is and what is wrong. */
export interface ConfigIssue {
  readonly file: string;
  /** 1-based line number, or 0 when the problem is not tied to a line (e.g. a missing section). */
  readonly line: number;
  /** `Section.Key`, e.g. `Peer.KeyOut`, or the section name alone. */
  readonly field: string;
  readonly message: string;
}

export function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}` : issue.file;
  return `${where}: ${issue.field}: ${issue.message}`;
}

/** A config file failed validation; `issues` lists every problem found, not only the first. */
export class ConfigError extends IroError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super('ERR_CONFIG', issues.map(formatConfigIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** The process lacks a capability or device; `fix` is the exact remedy shown to the user. */
export class PrivilegeError extends IroError {
  readonly fix: string;

  constructor(message: string, fix: string, options?: { cause?: unknown }) {
    super('ERR_PRIVILEGE', `${message}\nfix: ${fix}`, options);
    this.name = 'PrivilegeError';
    this.fix = fix;
  }
}

/** Process exit codes of the CLI (DESIGN.md "Interfaces people touch"; sysexits.h values). */
export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NO_PERMISSION: 77,
  CONFIG: 78,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
