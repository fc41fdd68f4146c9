// Text layouts shared by the Ink view and the plain-line view: the check table and the
// reachability matrix read the same with or without colour.
import type { CheckResult } from '../verify/checks.js';
import { columns } from '../core/table.js';

export const SYM = { met: '✔', unmet: '✘', reached: '+', blocked: 'x', none: '-' } as const;

export function checkTarget(r: CheckResult): string {
  const c = r.check;
  if (c.kind === 'exec') return c.command.join(' ');
  if (c.kind === 'trace') return `${c.to}${c.port ? `:${c.port}` : ''} ${c.passes.join(' ')}${c.result ? ` ${c.result}` : ''}`.trim();
  if (c.kind === 'ping') return c.to;
  return `${c.to.includes(':') ? `[${c.to}]` : c.to}:${c.port}`;
}

export interface TableRow {
  met: boolean;
  cells: string[];
  /** What the check proves (its `why:`), shown under its row. */
  why?: string;
}

/** The line under a check's row (or verdict) that says what it proves. */
export const whyText = (why: string) => `    ↳ ${why}`;

/** The table's lines with each row's why under it: [text, row or undefined for the head and why lines]. */
export function tableLines(t: { head: string[]; rows: TableRow[] }, width = 80): { text: string; row?: TableRow; why?: boolean }[] {
  const lines = layout(
    t.head,
    t.rows.map((r) => r.cells),
    width,
  );
  return [{ text: lines[0]! }, ...t.rows.flatMap((r, i) => [{ text: lines[i + 1]!, row: r }, ...(r.why ? [{ text: whyText(r.why), row: r, why: true }] : [])])];
}

/** The checks that are not matrix cells, as rows: status, kind, from, to, expected, seen, time. */
export function checkTable(results: CheckResult[]): { head: string[]; rows: TableRow[] } {
  const rows = results
    .filter((r) => !r.check.matrix)
    .map((r) => ({
      met: r.met,
      cells: [r.met ? `${SYM.met} met` : `${SYM.unmet} NOT MET`, r.check.kind, r.check.from, checkTarget(r), r.check.expect, r.seen, `${r.ms}ms`],
      ...(r.check.why ? { why: r.check.why } : {}),
    }));
  return { head: ['', 'check', 'from', 'to', 'expect', 'seen', 'time'], rows };
}

/** The check table's lines, the head first, cut to fit `max` columns (the widest column shrinks). */
export const layout = (head: string[], rows: string[][], max = 80): string[] => columns([head, ...rows], { max });

export interface Matrix {
  id: number;
  from: string[];
  to: string[];
  /** cell[from][to] */
  cells: Map<string, Map<string, CheckResult>>;
}

export function matrices(results: CheckResult[]): Matrix[] {
  const byId = new Map<number, Matrix>();
  for (const r of results) {
    const m = r.check.matrix;
    if (!m) continue;
    let mx = byId.get(m.id);
    if (!mx) byId.set(m.id, (mx = { id: m.id, from: [], to: [], cells: new Map() }));
    if (!mx.from.includes(m.from)) mx.from.push(m.from);
    if (!mx.to.includes(m.to)) mx.to.push(m.to);
    if (!mx.cells.has(m.from)) mx.cells.set(m.from, new Map());
    mx.cells.get(m.from)!.set(m.to, r);
  }
  // Rows and columns in one order: the order in which the lab names the nodes.
  for (const m of byId.values()) {
    const order: string[] = [];
    for (const r of results) if (r.check.matrix?.id === m.id) for (const n of [r.check.matrix.from, r.check.matrix.to]) if (!order.includes(n)) order.push(n);
    m.from.sort((a, b) => order.indexOf(a) - order.indexOf(b));
    m.to.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  }
  return [...byId.values()];
}

/** A cell: what was seen (+ reached, x blocked), wrapped in !…! when it was not what was expected. */
export function cellText(r: CheckResult | undefined): string {
  if (!r) return SYM.none;
  const seen = r.seen === 'ok' ? SYM.reached : SYM.blocked;
  return r.met ? seen : `!${seen}!`;
}

export interface MatrixLine {
  text: string;
  /** The cells of a row; none for a header. */
  cells: (CheckResult | undefined)[];
  head: boolean;
}

/**
 * The matrix as lines no wider than maxWidth. Column names keep up to 8 characters; when the
 * columns do not fit side by side, they are split into blocks of columns, one under the other,
 * each with its own header, rather than cut to unreadable widths.
 */
export function matrixLines(m: Matrix, maxWidth = 80): { lines: MatrixLine[]; legend: string } {
  const rowW = Math.min(12, Math.max(7, ...m.from.map((f) => f.length)));
  const colW = Math.max(3, Math.min(8, Math.max(...m.to.map((t) => t.length))));
  const perBlock = Math.max(1, Math.floor((maxWidth - rowW - 2 + 1) / (colW + 1)));
  const cut = (s: string, w: number) => (s.length > w ? s.slice(0, w) : s);
  const lines: MatrixLine[] = [];
  for (let at = 0; at < m.to.length; at += perBlock) {
    const to = m.to.slice(at, at + perBlock);
    if (at > 0) lines.push({ text: '', cells: [], head: false });
    lines.push({ text: `${'from\\to'.padEnd(rowW)}  ${to.map((t) => cut(t, colW).padStart(colW)).join(' ')}`, cells: [], head: true });
    for (const f of m.from) {
      const cells = to.map((t) => m.cells.get(f)?.get(t));
      lines.push({ text: `${cut(f, rowW).padEnd(rowW)}  ${cells.map((c) => cellText(c).padStart(colW)).join(' ')}`, cells, head: false });
    }
  }
  return { lines, legend: `${SYM.reached} reached  ${SYM.blocked} blocked  !…! not as expected  ${SYM.none} no check` };
}

export function summaryText(results: CheckResult[]): string {
  const met = results.filter((r) => r.met).length;
  return `${met}/${results.length} checks met${met === results.length ? '' : `, ${results.length - met} NOT met`}`;
}
