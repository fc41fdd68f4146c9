// Problems in lab files and how they are printed. No YAML here: the commands that never parse a
// file (down, status, gc, ...) import this without loading the YAML library.
import type { SrcPath } from '../model/types.js';
import { CliError, EXIT, printable } from '../core/errors.js';

/** A problem found in a lab file, located in the source. */
export interface Problem {
  file: string;
  line: number;
  col: number;
  /** Display path into the document, e.g. links[0].endpoints[1]. */
  path: string;
  message: string;
  hint?: string;
}

/** How many problems a terminal gets; `validate --json` has them all. */
export const PRINTED_PROBLEMS = 100;

/** Thrown for user errors in lab files; carries every problem found. */
export class LabError extends CliError {
  constructor(readonly problems: Problem[]) {
    super(formatProblems(problems).join('\n'), EXIT.invalid);
    this.name = 'LabError';
  }

  override text(): string {
    return `${this.message}\n${this.problems.length} problem${this.problems.length === 1 ? '' : 's'} found; nothing was changed`;
  }
}

/** One problem as FILE:LINE:COL: error: PATH: MESSAGE (+ hint), each part on its one line. */
export function formatProblem(p: Problem): string {
  const one = (s: string) => printable(s.replace(/\n/g, '\\n'));
  const head = `${one(p.file)}:${p.line}:${p.col}: error: ${p.path ? `${one(p.path)}: ` : ''}${one(p.message)}`;
  return p.hint ? `${head}\n  hint: ${one(p.hint)}` : head;
}

/** The first PRINTED_PROBLEMS problems, then how many more there are. */
export function formatProblems(problems: Problem[]): string[] {
  const lines = problems.slice(0, PRINTED_PROBLEMS).map(formatProblem);
  const more = problems.length - PRINTED_PROBLEMS;
  if (more > 0) lines.push(`... and ${more} more problem${more === 1 ? '' : 's'} (netlab validate --json FILE lists every one)`);
  return lines;
}

export function displayPath(path: SrcPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Levenshtein distance, for "did you mean" hints. */
export function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const c = closest(word, candidates);
  return c ? `did you mean '${c}'?` : undefined;
}

/** Problems in the order of the file (a stable sort: one place keeps the order they were found in). */
export function sortProblems(ps: Problem[]): Problem[] {
  return [...ps].sort((a, b) => a.line - b.line || a.col - b.col);
}
