// What the interactive view of `netlab steps` draws (src/ui/steps-view.tsx), kept by a store the
// controller (src/ui/steps-app.ts) changes.
import type { CommandResult } from '../engine/steps.js';
import type { StepSpec } from '../model/types.js';
import type { CheckResult } from '../verify/checks.js';

export interface Key {
  key: string;
  label: string;
}

export interface StepsUiState {
  lab: string;
  total: number;
  index: number;
  step: StepSpec;
  /** The step's variant and commands have been applied to the lab. */
  ran: boolean;
  variant?: { name: string; changes: number };
  commands: CommandResult[];
  /** The last results of the step's checks; checked: they ran since the step was shown. */
  checks: CheckResult[];
  checked: boolean;
  /** What runs now. */
  busy?: string;
  message?: { text: string; tone: 'info' | 'ok' | 'error' };
  /** The output of the last child command (trace, counters, conntrack). */
  output?: { title: string; lines: string[] };
  /** A question: pick one of the options (their keys), or Esc. */
  choice?: { title: string; options: Key[] };
  keys: Key[];
  done?: boolean;
}

export class StepsStore {
  private listeners = new Set<() => void>();
  constructor(private state: StepsUiState) {}
  get = (): StepsUiState => this.state;
  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };
  set(patch: Partial<StepsUiState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }
}

/** The keys offered, in the order of the help line; the child-command keys only when the CLI has the command. */
export function keysFor(commands: string[], total: number): Key[] {
  const keys: Key[] = [
    { key: 'r', label: 'run the step' },
    { key: 'c', label: 'check' },
    { key: 'n', label: 'next' },
    { key: 'b', label: 'back' },
    { key: total > 9 ? '1-9' : `1-${total}`, label: 'reset to step' },
  ];
  if (total > 9) keys.push({ key: 'g', label: 'go to step…' });
  if (commands.includes('shell')) keys.push({ key: 's', label: 'shell' });
  if (commands.includes('trace')) keys.push({ key: 't', label: 'trace' });
  if (commands.includes('counters')) keys.push({ key: 'k', label: 'counters' });
  if (commands.includes('conntrack')) keys.push({ key: 'x', label: 'conntrack' });
  keys.push({ key: 'q', label: 'quit' });
  return keys;
}
