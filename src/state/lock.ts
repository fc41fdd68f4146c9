// One `up`/`down` per lab at a time: an exclusive lock file holding the owner's pid.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
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
 * Removes a stale lock (its holder died: kill -9) so that the next open takes it. Two netlabs
 * (or gc) may find it stale at once, and one may already have taken the lock anew: takeovers go
 * one at a time (LOCK.takeover, made with O_EXCL), and each removes the lock only while it is
 * still the very file it judged (inode, mtime and content). A takeover killed halfway leaves its
 * LOCK.takeover, which the next one removes once it is older than a takeover can take.
 */
export function takeOver(path: string, judged: string): boolean {
  const turn = `${path}.takeover`;
  let fd: number;
  try {
    fd = openSync(turn, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    try {
      if (Date.now() - statSync(turn).mtimeMs > YOUNG_MS) rmSync(turn, { force: true });
    } catch {
      // gone meanwhile
    }
    return false; // another takeover is under way: the caller tries again
  }
  closeSync(fd);
  try {
    if (readLock(path).id !== judged) return false;
    rmSync(path, { force: true });
    return true;
  } finally {
    rmSync(turn, { force: true });
  }
}

/** A lock being taken has no pid for a moment: an empty file is young, not stale, for this long. */
const YOUNG_MS = 5000;

/** A lock file's identity: inode, mtime and content (an inode number alone is reused at once, a coarse mtime within a few ms). */
const fileId = (st: BigIntStats, text: string) => `${st.ino}:${st.mtimeNs}:${text}`;

/**
 * The pid a lock file holds ('young' while it is still empty, 'stale' when it stayed empty or is
 * garbage), and the identity of the file judged (a takeover removes exactly that file).
 */
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
    // The turn file of a takeover killed halfway, once old.
    if (f.endsWith('.lock.takeover')) {
      try {
        if (Date.now() - statSync(join(dir, f)).mtimeMs > YOUNG_MS) rmSync(join(dir, f), { force: true });
      } catch {
        // gone meanwhile
      }
      continue;
    }
    if (!f.endsWith('.lock') || (labs && !labs.has(f.replace(/\.lock$/, '')))) continue;
    const path = join(dir, f);
    const { holder, id } = readLock(path);
    if (holder === 'gone' || holder === 'young' || (typeof holder === 'number' && alive(holder))) continue;
    if (takeOver(path, id)) removed.push(f.replace(/\.lock$/, ''));
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
        throw new LockError(
          `${what}: another netlab has held them for over ${ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`} (${join(stateDir(), 'locks', `${name}.lock`)}); wait for it to finish, or stop it`,
        );
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
    }
  }
}
