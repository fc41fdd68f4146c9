// One `up`/`down` per lab at a time: an exclusive lock file holding the owner's pid.
import { closeSync, existsSync, fstatSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
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
      const { holder, id } = readLock(path);
      if (holder === 'gone') continue; // released meanwhile
      if (holder === 'young') throw new LockError(`lab '${lab}' is being locked by another netlab right now (${path} does not hold its pid yet); try again in a moment`);
      if (holder !== 'stale' && holder !== process.pid && alive(holder)) {
        throw new LockError(`lab '${lab}' is being changed by another netlab (pid ${holder}); wait for it to finish, or stop it`);
      }
      takeOver(path, id);
    }
  }
  throw new LockError(`could not take the lock of lab '${lab}' at ${path}`);
}

/**
 * Removes a stale lock (its holder died: kill -9) so that the next open takes it. Two netlabs may
 * find it stale at once: each moves the file aside (atomic), and one that moved a lock another has
 * just taken (not the file it judged: another inode, mtime or content) puts it back,
 * so only one of them gets in.
 */
export function takeOver(path: string, judged: string): void {
  const aside = `${path}.${process.pid}.aside`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    if (fileId(statSync(aside, { bigint: true }), readFileSync(aside, 'utf8').trim()) !== judged) linkSync(aside, path); // someone else's fresh lock: back
  } catch {
    // a newer lock is in place already: it stays
  } finally {
    rmSync(aside, { force: true });
  }
}

/** A lock being taken has no pid for a moment: an empty file is young, not stale, for this long. */
const YOUNG_MS = 5000;

/** The pid a lock file holds; 'young' while it is still empty, 'stale' when it stayed empty or is garbage. */
function readHolder(path: string): number | 'young' | 'stale' | 'gone' {
  return readLock(path).holder;
}

/** A lock file's identity: inode, mtime and content (an inode number alone is reused at once, a coarse mtime within a few ms). */
const fileId = (st: BigIntStats, text: string) => `${st.ino}:${st.mtimeNs}:${text}`;

/** readHolder, and the identity of the file judged (a takeover moves exactly that file aside). */
export function readLock(path: string): { holder: number | 'young' | 'stale' | 'gone'; id: string } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { holder: 'gone', id: '' };
    throw e;
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    const text = readFileSync(fd, 'utf8').trim();
    const id = fileId(st, text);
    if (/^[1-9]\d*$/.test(text)) return { holder: Number(text), id };
    return { holder: !text && Date.now() - Number(st.mtimeMs) < YOUNG_MS ? 'young' : 'stale', id };
  } finally {
    closeSync(fd);
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
