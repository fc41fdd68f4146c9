// Where netlab keeps its state (journals, locks, logs, the lab cache): pure path logic.
import { join } from 'node:path';

/** The output of a lab's processes; it goes with the lab's journal (down, gc). */
export function logDir(lab: string): string {
  return join(stateDir(), 'logs', lab);
}

/**
 * How a lab is named in what the user reads: LAB@NAME when netlab runs inside that instance's world
 * (NETLAB_INSTANCE, set by netlab outside), else LAB. JSON keeps the lab's own name.
 */
export function shownLab(lab: string): string {
  const inst = process.env.NETLAB_INSTANCE;
  return inst?.startsWith(`${lab}@`) ? inst : lab;
}

export function stateDir(): string {
  return process.env.NETLAB_STATE_DIR || '/run/netlab';
}
