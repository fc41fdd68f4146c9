// The ownership journal: what a lab made, written before each change, so that `down` removes
// exactly that, even after the YAML was edited or deleted, or netlab was killed mid-way.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { HostRule } from '../model/types.js';
import type { NsId } from './ownership.js';

export interface TableRecord {
  /** Hash of the payload last restored. */
  hash: string;
  /** The table as iptables-save printed it right after, normalized; absent if not read yet. */
  saved?: string;
}

export interface Journal {
  version: 1;
  lab: string;
  /** Absolute path of the lab file last applied. */
  file: string;
  status: 'applying' | 'up' | 'failed';
  updated: string;
  /**
   * Namespaces this lab claims: written before it creates one (so that a crash leaves nothing
   * unlisted), proven its own by `ids` or its mark (src/state/ownership.ts), never by the name alone.
   */
  namespaces: string[];
  /** Links in the host namespace this lab claims (bridges, veth host ends), as namespaces. */
  hostLinks: string[];
  /**
   * Identities of the claimed objects proven the lab's: a namespace's nsfs inode and mtime, a host
   * link's ifindex. Absent in journals written before identities were recorded: their objects are
   * then the lab's only when they carry its mark.
   */
  ids?: { ns?: Record<string, NsId>; links?: Record<string, number> };
  /** Per namespace (host = ""): sysctl key -> value before the lab first set it. */
  sysctls: Record<string, Record<string, string>>;
  /** Per namespace: table key -> what was restored. */
  iptables: Record<string, Record<string, TableRecord>>;
  /** Host iptables rules added, as written and as iptables-save prints them. */
  hostIptables: (HostRule & { saved?: string })[];
  /** Host iptables tables that existed before the lab first added rules, per family. */
  hostTablesBefore?: Partial<Record<'ipv4' | 'ipv6', string[]>>;
  /** Per namespace: veth end -> its peer "ns/name", to notice a re-wired link. */
  peers: Record<string, Record<string, string>>;
  /** Namespaces that had IPv6 policy-routing rules. */
  v6rules: string[];
  /** Namespaces where the lab put impairments (qdiscs) on interfaces, to read them back. */
  impaired?: string[];
  /**
   * Per namespace: what `up` last verified there (the fingerprint of the file's part for it) and
   * the namespace's identity (inode); a plain `up` trusts a namespace whose both still agree.
   */
  verified?: Record<string, { fp: string; ino: number }>;
  /** Key of the lab file's entry in the lab cache (src/load/cache.ts), kept while the lab is up. */
  labKey?: string;
  /** Processes started in nodes, by "node/name". */
  processes?: Record<string, ProcessRecord>;
}

export interface ProcessRecord {
  ns: string;
  argv: string[];
  pid: number;
  /** Start time from /proc/PID/stat (field 22), so a reused pid is never mistaken for ours. */
  start: string;
  log: string;
}

export function logDir(lab: string): string {
  return join(stateDir(), 'logs', lab);
}

export function stateDir(): string {
  return process.env.NETLAB_STATE_DIR ?? '/run/netlab';
}

function journalPath(lab: string): string {
  return join(stateDir(), 'labs', `${lab}.json`);
}

export function newJournal(lab: string, file: string): Journal {
  return { version: 1, lab, file, status: 'applying', updated: new Date().toISOString(), namespaces: [], hostLinks: [], sysctls: {}, iptables: {}, hostIptables: [], peers: {}, v6rules: [] };
}

export function readJournal(lab: string): Journal | undefined {
  try {
    return JSON.parse(readFileSync(journalPath(lab), 'utf8')) as Journal;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`the journal ${journalPath(lab)} is unreadable: ${(e as Error).message}`);
  }
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

export function listJournals(): Journal[] {
  let names: string[];
  try {
    names = readdirSync(join(stateDir(), 'labs')).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names.map((n) => readJournal(n.slice(0, -5))).filter((j): j is Journal => !!j);
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
