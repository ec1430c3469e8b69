/**
 * A small INI reader for the wg-quick file shape. Unlike most INI libraries it keeps repeated
 * sections (every [Peer]) and repeated keys, in file order, each with its line number, and it
 * never throws: problems come back as ConfigIssues so validation can report all of them.
 *
 * Syntax: `[Section]` headers; `Key = Value` lines; `#` and `;` start a comment anywhere on a
 * line (so values cannot contain them); blank lines are ignored; a UTF-8 BOM is skipped.
 * Keys and section names are kept as written; validate.ts matches them case-insensitively.
 */
import type { ConfigIssue } from '../util/errors.js';
import { quoteValue } from './values.js';

export interface IniEntry {
  /** As written (case preserved). */
  readonly key: string;
  /** Trimmed, comment removed; may be empty. */
  readonly value: string;
  readonly line: number;
}

export interface IniSection {
  /** As written between the brackets. */
  readonly name: string;
  readonly line: number;
  readonly entries: IniEntry[];
}

export interface IniDocument {
  readonly sections: readonly IniSection[];
  readonly issues: readonly ConfigIssue[];
}

/** Field name used for problems that belong to no section. */
export const FILE_FIELD = '(file)';

const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]*$/;

function stripComment(line: string): string {
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '#' || c === ';') return line.slice(0, i);
  }
  return line;
}

/** Splits `text` into sections and entries. Pure; never throws. */
export function parseIni(text: string, file: string): IniDocument {
  const sections: IniSection[] = [];
  const issues: ConfigIssue[] = [];
  const lines = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split(/\r\n|\r|\n/);
  let current: IniSection | null = null;
  // After a malformed header, its entries are skipped: one error for the header is enough.
  let skipping = false;
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const body = stripComment(lines[i]!).trim();
    if (body === '') continue;
    const field = current ? current.name : FILE_FIELD;
    if (body.startsWith('[')) {
      const m = /^\[\s*([^\]]*?)\s*\]$/.exec(body);
      if (!m) {
        issues.push({ file, line, field, message: `malformed section header ${quoteValue(body)}: expected [Interface] or [Peer]` });
        current = null;
        skipping = true;
        continue;
      }
      const name = m[1]!;
      if (!NAME_RE.test(name)) {
        issues.push({ file, line, field: FILE_FIELD, message: `invalid section name ${quoteValue(name)}: expected [Interface] or [Peer]` });
        current = null;
        skipping = true;
        continue;
      }
      current = { name, line, entries: [] };
      skipping = false;
      sections.push(current);
      continue;
    }
    if (skipping) continue;
    const eq = body.indexOf('=');
    if (eq === -1) {
      issues.push({ file, line, field, message: `expected "Key = Value" or a [Section] header, got ${quoteValue(body)}` });
      continue;
    }
    const key = body.slice(0, eq).trim();
    const value = body.slice(eq + 1).trim();
    if (!NAME_RE.test(key)) {
      issues.push({ file, line, field, message: `invalid key name ${quoteValue(key)}: expected letters and digits, as in "Key = Value"` });
      continue;
    }
    if (!current) {
      issues.push({ file, line, field: FILE_FIELD, message: `key ${quoteValue(key)} appears before any [Interface] or [Peer] section` });
      continue;
    }
    current.entries.push({ key, value, line });
  }
  return { sections, issues };
}
