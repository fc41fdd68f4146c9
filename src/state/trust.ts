// Which lab namespaces `up --trust-verified` may take as they were left instead of reading them.
//
// Reading a namespace costs a process or two in it (nsenter + ip, iptables-save): at 200
// namespaces that is most of a no-op `up`. So `up` records, per namespace its read found as the
// file asks, that it verified it: the fingerprint of what the file asked for, and the namespace's
// identity (the inode of /run/netns/NS, new whenever the namespace is re-created). A namespace
// `up` changes is only applied, not verified: the next `up` that reads it verifies it. With --trust-verified,
// a namespace whose file part, identity and record still agree, that no `netlab
// exec`/`shell`/`impair` entered since, and whose host-side veth ends are all there, is not read
// again. A plain `up`, `plan` and `status` read every namespace (so `up` repairs changes made by
// hand inside them).
import { sha256 } from '../hash.js';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST, markOf, type DesiredState, type NsState, type ObservedNs } from '../model/types.js';
import type { Journal } from '../model/journal.js';
import { stateDir } from '../core/state.js';

/** Fingerprint of what the file asks of one namespace (Maps keep the file's order). */
export function nsFingerprint(s: NsState): string {
  const json = JSON.stringify(s, (_k, v: unknown) => (v instanceof Map ? [...v] : v));
  return sha256([json], 16);
}

const enteredDir = (lab: string) => join(stateDir(), 'entered', lab);

/** Notes that a command entered a lab namespace and may have changed it: the next `up` reads it. */
export function markEntered(lab: string, ns: string): void {
  if (ns === HOST) return;
  mkdirSync(enteredDir(lab), { recursive: true });
  writeFileSync(join(enteredDir(lab), ns), `${new Date().toISOString()}\n`);
}

/** Namespaces entered since they were last verified, with the time of the mark. */
export function enteredNamespaces(lab: string): Map<string, number> {
  const out = new Map<string, number>();
  let names: string[];
  try {
    names = readdirSync(enteredDir(lab));
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      out.set(n, statSync(join(enteredDir(lab), n)).mtimeMs);
    } catch {
      // removed meanwhile
    }
  }
  return out;
}

/** Drops the marks that were read before a successful `up` (a mark renewed since stays). */
export function clearEntered(lab: string, seen: Map<string, number>): void {
  if (!seen.size) return;
  const now = enteredNamespaces(lab);
  for (const [ns, mtime] of seen) if (now.get(ns) === mtime) rmSync(join(enteredDir(lab), ns), { force: true });
}

export function removeEntered(lab: string): void {
  rmSync(enteredDir(lab), { recursive: true, force: true });
}

/**
 * A namespace as `up` last verified it, as the observer would have read it: the file's links,
 * addresses, routes, rules and sysctls, and the iptables tables as iptables-save printed them
 * right after they were restored (from the journal). Undefined when the journal lacks a table.
 */
export function verifiedState(desired: DesiredState, journal: Journal, ns: string): ObservedNs | undefined {
  const want = desired.ns.get(ns);
  if (!want) return undefined;
  const iptables = new Map<string, string>();
  for (const key of want.iptables.keys()) {
    const saved = journal.iptables[ns]?.[key]?.saved;
    if (saved === undefined) return undefined;
    iptables.set(key, saved);
  }
  return { links: want.links, routes: want.routes, rules: want.rules, sysctls: want.sysctls, iptables, ipsets: want.ipsets, mark: markOf(desired.lab) };
}

/** The namespaces whose last verified state can stand for a read, each with that state. */
export function trustable(desired: DesiredState, journal: Journal | undefined, netns: Set<string>, entered: Set<string>, inode: InodeOf): Map<string, ObservedNs> {
  const out = new Map<string, ObservedNs>();
  if (journal?.status !== 'up' || !journal.verified) return out;
  for (const ns of desired.namespaces) {
    const rec = journal.verified[ns];
    const want = desired.ns.get(ns);
    if (!rec || !want || !netns.has(ns) || entered.has(ns)) continue;
    if (rec.fp !== nsFingerprint(want) || rec.ino !== inode(ns)) continue;
    const state = verifiedState(desired, journal, ns);
    if (state) out.set(ns, state);
  }
  return out;
}

/** A namespace's veths into the host: each host end must still be there, a veth, for the trust to hold. */
export function hostEndsPresent(want: NsState, host: ObservedNs): boolean {
  for (const l of want.links.values()) {
    if (l.kind === 'veth' && l.peer?.ns === HOST && host.links.get(l.peer.name)?.kind !== 'veth') return false;
  }
  return true;
}

/** The namespace's identity: the inode of its nsfs file, or undefined when it does not exist. */
export type InodeOf = (ns: string) => number | undefined;

/** Records the namespaces as verified: a read of this `up` found them holding what the file asks. */
export function recordVerified(j: Journal, desired: DesiredState, namespaces: Iterable<string>, inode: InodeOf): void {
  const verified = (j.verified ??= {});
  for (const ns of namespaces) {
    const want = desired.ns.get(ns);
    const ino = inode(ns);
    if (!want || ino === undefined) delete verified[ns];
    else verified[ns] = { fp: nsFingerprint(want), ino };
  }
  for (const ns of Object.keys(verified)) if (!desired.ns.has(ns)) delete verified[ns];
}

/** Whether the journal already records every namespace of the file as verified, as it is now. */
export function verifiedAsRecorded(j: Journal, desired: DesiredState, inode: InodeOf): boolean {
  const verified = j.verified ?? {};
  if (Object.keys(verified).length !== desired.namespaces.length) return false;
  return desired.namespaces.every((ns) => {
    const rec = verified[ns];
    const want = desired.ns.get(ns);
    return !!rec && !!want && rec.ino === inode(ns) && rec.fp === nsFingerprint(want);
  });
}

/** Forgets the verified state of namespaces about to be changed: until the change succeeds, they are read. */
export function forgetVerified(j: Journal, namespaces: Iterable<string>): void {
  for (const ns of namespaces) delete j.verified?.[ns];
}
