// Locates paths of a parsed YAML document in its source text, for FILE:LINE:COL messages.
import { isMap, isPair, isScalar, isSeq, LineCounter, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import type { SrcPath } from '../model/types.js';
import { displayPath, type Problem } from './problems.js';

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

  /** Each mapping's pairs by key, built once: a file with many problems looks up many paths. */
  private keys = new WeakMap<object, Map<string, Pair>>();
  private keysOf(map: YAMLMap): Map<string, Pair> {
    let m = this.keys.get(map);
    if (!m) {
      m = new Map();
      for (const it of map.items) if (isPair(it) && isScalar(it.key) && !m.has(String(it.key.value))) m.set(String(it.key.value), it);
      this.keys.set(map, m);
    }
    return m;
  }

  /** Finds the node at `path`; with `key`, the key of the last segment rather than its value. */
  private find(path: SrcPath, key: boolean): Node | undefined {
    let node: unknown = this.doc?.contents;
    let found: Node | undefined = node as Node | undefined;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = this.keysOf(node).get(String(seg));
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
