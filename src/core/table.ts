// Text tables (pure): the one column layout for the check table, doctor's lists and the benchmarks.

export interface TableOptions {
  /** Shrink the widest column (its cells cut with …) until a line fits this many characters. */
  max?: number;
  /** Per column: 'left' (the default) or 'right'. */
  align?: ('left' | 'right')[];
  /** Per column: the least width. */
  min?: number[];
  /** A line of dashes under the first row. */
  rule?: boolean;
}

/** Rows as lines of columns two spaces apart, each column as wide as its widest cell; no trailing blanks. */
export function columns(rows: string[][], o: TableOptions = {}): string[] {
  const n = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: n }, (_, i) => Math.max(o.min?.[i] ?? 0, ...rows.map((r) => (r[i] ?? '').length)));
  if (o.max !== undefined) {
    let total = widths.reduce((a, b) => a + b + 2, 0);
    while (total > o.max) {
      const i = widths.indexOf(Math.max(...widths));
      if (widths[i]! <= 8) break;
      widths[i]!--;
      total--;
    }
  }
  const cell = (s: string, i: number) => {
    const w = widths[i]!;
    if (s.length > w) return `${s.slice(0, w - 1)}…`;
    return o.align?.[i] === 'right' ? s.padStart(w) : s.padEnd(w);
  };
  const line = (r: string[]) => r.map(cell).join('  ').trimEnd();
  const lines = rows.map(line);
  if (o.rule && lines.length) lines.splice(1, 0, line(widths.map((w) => '-'.repeat(w))));
  return lines;
}
