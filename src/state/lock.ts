// One `up`/`down` per lab at a time: an exclusive lock file holding the owner's pid.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { CliError, EXIT } from '../core/errors.js';
import { join } from 'node:path';
import { stateDir } from '../core/state.js';

export class LockError extends CliError {
  constructor(message: string) {
    super(message, EXIT.locked);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie is dead: killed, not yet reaped by its new parent (kill -9 of a netlab and its parent).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Takes the lab's lock, or throws LockError naming the holder. A dead holder's lock is taken over. */
export function acquireLock(lab: string): () => void {
  const dir = join(stateDir(), 'locks');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${lab}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(path, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readHolder(path);
      if (holder === 'gone') continue; // released meanwhile
      if (holder === 'young') throw new LockError(`lab '${lab}' is being locked by another netlab right now (${path} does not hold its pid yet); try again in a moment`);
      if (holder !== 'stale' && holder !== process.pid && alive(holder)) {
        throw new LockError(`lab '${lab}' is being changed by another netlab (pid ${holder}); wait for it to finish, or stop it`);
      }
      rmSync(path, { force: true }); // stale: its holder died (kill -9)
    }
  }
  throw new LockError(`could not take the lock of lab '${lab}' at ${path}`);
}

/** A lock being taken has no pid for a moment: an empty file is young, not stale, for this long. */
const YOUNG_MS = 5000;

/** The pid a lock file holds; 'young' while it is still empty, 'stale' when it stayed empty or is garbage. */
function readHolder(path: string): number | 'young' | 'stale' | 'gone' {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (/^[1-9]\d*$/.test(text)) return Number(text);
    return !text && Date.now() - statSync(path).mtimeMs < YOUNG_MS ? 'young' : 'stale';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw e;
  }
}

/** Removes lock files whose holder is gone (netlab gc; only those of `labs`, when given); returns the labs they were for. */
export function removeStaleLocks(labs?: Set<string>): string[] {
  const dir = join(stateDir(), 'locks');
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const f of readdirSync(dir)) {
    if (labs && !labs.has(f.replace(/\.lock$/, ''))) continue;
    const path = join(dir, f);
    const holder = readHolder(path);
    if (holder === 'gone' || holder === 'young' || (typeof holder === 'number' && alive(holder))) continue;
    rmSync(path, { force: true });
    removed.push(f.replace(/\.lock$/, ''));
  }
  return removed;
}

/**
 * Takes a lock like acquireLock, waiting up to `ms` while another netlab holds it: for short
 * sections that every instance passes through one at a time (the real host's uplinks).
 */
export async function waitLock(name: string, ms: number, what: string): Promise<() => void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return acquireLock(name);
    } catch (e) {
      if (!(e instanceof LockError)) throw e;
      if (Date.now() > until)
        throw new LockError(`${what}: another netlab has held them for over ${Math.round(ms / 1000)} s (${join(stateDir(), 'locks', `${name}.lock`)}); wait for it to finish, or stop it`);
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
    }
  }
}
