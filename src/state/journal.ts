// The ownership journal: what a lab made, written before each change, so that `down` removes
// exactly that, even after the YAML was edited or deleted, or netlab was killed mid-way.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Journal } from '../model/journal.js';
import type { NsId } from '../model/ownership.js';
import { CliError, EXIT } from '../core/errors.js';
import { logDir, stateDir } from '../core/state.js';

export function removeLogs(lab: string): void {
  rmSync(logDir(lab), { recursive: true, force: true });
}

/** Labs that have a log directory. */
export function listLogDirs(): string[] {
  try {
    return readdirSync(join(stateDir(), 'logs'));
  } catch {
    return [];
  }
}

/** A lab's name, as the schema allows it (and a mark can carry it). */
export const LAB_NAME = '[A-Za-z0-9][A-Za-z0-9_-]{0,31}';
export const isLabName = (name: string) => new RegExp(`^${LAB_NAME}$`).test(name);

export function journalPath(lab: string): string {
  return join(stateDir(), 'labs', `${lab}.json`);
}

/**
 * A file system error on the state directory (NETLAB_STATE_DIR a file, unwritable, read-only) as
 * the error a user can act on; undefined for any other error.
 */
export function stateDirError(e: unknown): CliError | undefined {
  const err = e as NodeJS.ErrnoException | undefined;
  const dir = stateDir();
  if (e instanceof CliError || typeof err?.code !== 'string' || typeof err.path !== 'string' || (err.path !== dir && !err.path.startsWith(`${dir}/`))) return undefined;
  const why: Record<string, string> = {
    ENOTDIR: 'it, or a path in it, is not a directory',
    EEXIST: 'a path in it is in the way',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'it is on a read-only file system',
    ENOSPC: 'no space left on its file system',
    EDQUOT: 'disk quota exceeded',
  };
  const set = !!process.env.NETLAB_STATE_DIR;
  return new CliError(
    `the state directory ${set ? `NETLAB_STATE_DIR=${dir}` : dir} is unusable: ${why[err.code] ?? err.message} (${err.code} on ${err.path})`,
    EXIT.error,
    set
      ? 'point NETLAB_STATE_DIR at a writable directory, or unset it (default /run/netlab)'
      : 'netlab keeps its journals and locks there: make it a writable directory, or set NETLAB_STATE_DIR to one',
  );
}

export function newJournal(lab: string, file: string): Journal {
  return { version: 1, lab, file, status: 'applying', updated: new Date().toISOString(), namespaces: [], hostLinks: [], sysctls: {}, iptables: {}, hostIptables: [], peers: {}, v6rules: [] };
}

/** A journal that exists but cannot be used: netlab leaves it alone and says what to do. */
export class JournalError extends CliError {
  constructor(
    readonly lab: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(
      `the journal of lab ${lab} is damaged: ${path}: ${reason}`,
      EXIT.error,
      `check the file, then either run 'netlab gc ${lab}' (removes what carries lab ${lab}'s mark, and the file) or remove the file (rm ${path}) and run 'netlab up FILE' again (it adopts what carries the lab's mark); host sysctls the lab changed are not restored: their old values were in the journal`,
    );
    this.name = 'JournalError';
  }
}

/** What is wrong with a parsed journal's shape, or undefined. */
function shapeProblem(j: unknown, lab: string): string | undefined {
  if (j === null || typeof j !== 'object' || Array.isArray(j)) return 'not a JSON object';
  const o = j as Record<string, unknown>;
  if (o.version !== 1) return `unknown version ${JSON.stringify(o.version)}`;
  if (o.lab !== lab) return `it names lab ${JSON.stringify(o.lab)}, not ${lab}`;
  if (typeof o.file !== 'string') return "'file' is not a string";
  for (const k of ['namespaces', 'hostLinks', 'hostIptables', 'v6rules']) if (!Array.isArray(o[k])) return `'${k}' is not a list`;
  for (const k of ['namespaces', 'hostLinks', 'v6rules']) if (!(o[k] as unknown[]).every((x) => typeof x === 'string')) return `'${k}' holds something other than names`;
  for (const k of ['sysctls', 'iptables', 'peers']) if (o[k] === null || typeof o[k] !== 'object' || Array.isArray(o[k])) return `'${k}' is not an object`;
  for (const k of ['processes', 'verified']) if (o[k] !== undefined && (o[k] === null || typeof o[k] !== 'object' || Array.isArray(o[k]))) return `'${k}' is not an object`;
  return undefined;
}

/** The lab's journal; undefined when there is none; JournalError when it is damaged. */
export function readJournal(lab: string): Journal | undefined {
  const path = journalPath(lab);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw stateDirError(e) ?? e;
  }
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new JournalError(lab, path, text.trim() ? `not valid JSON (${(e as Error).message}): truncated?` : 'empty file');
  }
  const bad = shapeProblem(j, lab);
  if (bad) throw new JournalError(lab, path, bad);
  return j as Journal;
}

/** Atomically replaces the journal and makes it durable before the change it announces is made. */
export function writeJournal(j: Journal): void {
  j.updated = new Date().toISOString();
  const path = journalPath(j.lab);
  mkdirSync(join(stateDir(), 'labs'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, JSON.stringify(j, null, 1));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function removeJournal(lab: string): void {
  rmSync(journalPath(lab), { force: true });
}

function journalNames(): string[] {
  try {
    return readdirSync(join(stateDir(), 'labs'))
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5));
  } catch (e) {
    // No journal yet (or /run cleared): no lab is up. A state directory that cannot be read must
    // not look like that: gc would take every lab's objects for orphans.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw stateDirError(e) ?? e;
  }
}

/** The journals of the labs that are up; a damaged one is left out (damagedJournals lists it). */
export function listJournals(): Journal[] {
  return scanJournals().journals;
}

/** Journals that are there but damaged: every other lab keeps working, these are reported. */
export function damagedJournals(): JournalError[] {
  return scanJournals().damaged;
}

export function scanJournals(): { journals: Journal[]; damaged: JournalError[] } {
  const journals: Journal[] = [];
  const damaged: JournalError[] = [];
  for (const name of journalNames()) {
    try {
      const j = readJournal(name);
      if (j) journals.push(j);
    } catch (e) {
      if (!(e instanceof JournalError)) throw e;
      damaged.push(e);
    }
  }
  return { journals, damaged };
}

/** Forgets claimed objects and their identities (rolled back, or found not to be the lab's). */
export function dropClaims(j: Journal, namespaces: Iterable<string>, hostLinks: Iterable<string>): void {
  const ns = new Set(namespaces);
  const links = new Set(hostLinks);
  j.namespaces = j.namespaces.filter((n) => !ns.has(n));
  j.hostLinks = j.hostLinks.filter((n) => !links.has(n));
  for (const n of ns) delete j.ids?.ns?.[n];
  for (const n of links) delete j.ids?.links?.[n];
}

/** Records objects as the lab's with their identities. */
export function recordOwned(j: Journal, namespaces: Map<string, NsId>, hostLinks: Map<string, number>): void {
  addUnique(j.namespaces, namespaces.keys());
  addUnique(j.hostLinks, hostLinks.keys());
  j.ids ??= {};
  for (const [n, id] of namespaces) (j.ids.ns ??= {})[n] = id;
  for (const [n, ix] of hostLinks) (j.ids.links ??= {})[n] = ix;
}

export function addUnique(list: string[], items: Iterable<string>): void {
  for (const i of items) if (!list.includes(i)) list.push(i);
}
