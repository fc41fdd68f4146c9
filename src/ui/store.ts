// The state the Ink view draws: rows derived from the listr2 task list (the one task model: the
// Ink renderer hands its tasks here), the check results, a summary.
// Views are pure functions of this state.
// Types only: listr2 itself is loaded by the session while the engine reads the kernel.
import type { ListrRenderer, ListrTask, ListrTaskEventType, ListrTaskObject } from 'listr2';
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

/** What a task's Ink row shows beside its state, kept on the task's definition (`row`). */
export interface RowInfo {
  id: string;
  /** The row's label (the plain renderer shows the task's title instead). */
  label: string;
  detail?: string;
  ms?: number;
  lines?: string[];
  /** Failed because the use case failed elsewhere: the row is not drawn (the error is). */
  aborted?: boolean;
}

export type RowTask = ListrTask & { row: RowInfo };

// biome-ignore lint/suspicious/noExplicitAny: listr2's task objects are generic over context and renderers
type AnyTask = ListrTaskObject<any, any, any>;

/** A task's row: its state from listr2, its label and details from its definition. */
export function rowOf(task: AnyTask): Row | undefined {
  const info = (task.task as Partial<RowTask>).row;
  if (!info || task.isSkipped()) return undefined;
  const state = task.isCompleted() ? 'done' : task.hasFailed() ? (info.aborted ? 'running' : 'failed') : task.isStarted() ? 'running' : 'pending';
  const { id, label, detail, ms, lines } = info;
  return { id, title: label, state, ...(detail !== undefined ? { detail } : {}), ...(ms !== undefined ? { ms } : {}), ...(lines?.length ? { lines } : {}) };
}

/** listr2's renderer on a terminal: it hands its tasks to the store that the Ink view draws. */
export class InkRenderer implements ListrRenderer {
  // The session alone decides when Ink draws (pickMode): listr2 must not fall back on its own.
  static nonTTY = true;
  static rendererOptions: { store: Store };
  static rendererTaskOptions: never;
  constructor(
    private readonly tasks: AnyTask[],
    private readonly options: { store: Store },
  ) {}
  render(): void {
    this.options.store.addTasks(this.tasks);
  }
  end(): void {}
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
  private tasks: AnyTask[] = [];
  /** A task list to draw: its rows follow the tasks' state and title events. */
  addTasks(tasks: AnyTask[]): void {
    this.tasks.push(...tasks);
    const redraw = () => this.set({ ...this.state, rows: this.tasks.flatMap((t) => rowOf(t) ?? []) });
    for (const t of tasks) {
      t.on('STATE' as ListrTaskEventType.STATE, redraw);
      t.on('TITLE' as ListrTaskEventType.TITLE, redraw);
    }
    redraw();
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
