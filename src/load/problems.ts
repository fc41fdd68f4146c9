import { isMap, isPair, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';
import type { SrcPath } from '../model/types.js';

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

/** Thrown for user errors in lab files; carries every problem found. */
export class LabError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'LabError';
  }
}

export function formatProblem(p: Problem): string {
  const head = `${p.file}:${p.line}:${p.col}: error: ${p.path ? `${p.path}: ` : ''}${p.message}`;
  return p.hint ? `${head}\n  hint: ${p.hint}` : head;
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

/** Locates paths of a parsed YAML document in its source text. */
export class SourceMap {
  readonly lines = new LineCounter();
  constructor(
    readonly file: string,
    public doc?: Document,
  ) {}

  pos(offset: number): { line: number; col: number } {
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }

  /** Finds the node at `path`; with `key`, the key of the last segment rather than its value. */
  private find(path: SrcPath, key: boolean): Node | undefined {
    let node: unknown = this.doc?.contents;
    let found: Node | undefined = node as Node | undefined;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
        if (!pair) return found;
        if (last && key) return pair.key as Node;
        node = pair.value;
        found = (pair.value as Node | null) ?? (pair.key as Node);
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (!item) return found;
        node = item;
        found = item as Node;
      } else return found;
    }
    return found;
  }

  problem(path: SrcPath, message: string, hint?: string, opts: { key?: boolean } = {}): Problem {
    const node = this.find(path, opts.key ?? false);
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.pos(offset);
    return { file: this.file, line, col, path: displayPath(path), message, ...(hint ? { hint } : {}) };
  }
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
