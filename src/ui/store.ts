// The state a view draws: task rows (from the listr2 task list), check results, a summary.
// Views are pure functions of this state; the engine only ever updates the store.
import type { CheckSpec } from '../model/types.js';
import type { CheckResult } from '../verify/checks.js';

export interface Row {
  id: string;
  title: string;
  state: 'pending' | 'running' | 'done' | 'failed' | 'skipped';
  detail?: string;
  ms?: number;
  /** Lines shown under the row once it is finished (the changes up made to a lab that was up). */
  lines?: string[];
}

export interface UiState {
  title: string;
  rows: Row[];
  checks: { total: number; results: CheckResult[] };
  summary?: { ok: boolean; text: string };
  error?: string;
}

export class Store {
  private state: UiState;
  private listeners = new Set<() => void>();
  /** Each check's place in the lab file: results arrive in completion order, views show file order. */
  private place = new Map<CheckSpec, number>();
  constructor(title: string) {
    this.state = { title, rows: [], checks: { total: 0, results: [] } };
  }
  get = (): UiState => this.state;
  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };
  private set(next: UiState): void {
    this.state = next;
    for (const l of this.listeners) l();
  }
  setTitle(title: string): void {
    this.set({ ...this.state, title });
  }
  addRow(row: Row): void {
    this.set({ ...this.state, rows: [...this.state.rows, row] });
  }
  updateRow(id: string, patch: Partial<Row>): void {
    this.set({ ...this.state, rows: this.state.rows.map((r) => (r.id === id ? { ...r, ...patch } : r)) });
  }
  checksStarted(checks: readonly CheckSpec[]): void {
    this.place = new Map(checks.map((c, i) => [c, i]));
    this.set({ ...this.state, checks: { total: checks.length, results: [] } });
  }
  checkDone(r: CheckResult): void {
    const at = (x: CheckResult) => this.place.get(x.check) ?? this.place.size;
    const results = [...this.state.checks.results, r].sort((a, b) => at(a) - at(b));
    this.set({ ...this.state, checks: { ...this.state.checks, results } });
  }
  finish(summary: { ok: boolean; text: string }): void {
    this.set({ ...this.state, summary });
  }
  fail(error: string): void {
    this.set({ ...this.state, error });
  }
}
