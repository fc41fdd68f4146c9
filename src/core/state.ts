// Where netlab keeps its state (journals, locks, logs, the lab cache): pure path logic.
import { join } from 'node:path';

/** The output of a lab's processes; it goes with the lab's journal (down, gc). */
export function logDir(lab: string): string {
  return join(stateDir(), 'logs', lab);
}

export function stateDir(): string {
  return process.env.NETLAB_STATE_DIR || '/run/netlab';
}
