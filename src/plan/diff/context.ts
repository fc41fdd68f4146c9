// What every part of diff() reads and writes: the two sides, the journal, the verdicts on
// ownership, and what earlier parts decided (namespaces made fresh, links created or deleted).
import { HOST, markOf, nsLabel, type DesiredState, type LinkState, type ObservedNs, type ObservedState } from '../../model/types.js';
import type { Journal } from '../../model/journal.js';
import { judgeLink, judgeNs, otherLab, type Verdict } from '../../model/ownership.js';
import type { Action } from '../actions.js';

/** An object in the way that the lab does not own: `up` refuses to touch it. */
export interface Conflict {
  object: string;
  message: string;
  hint: string;
}

export interface Ctx {
  desired: DesiredState;
  observed: ObservedState;
  journal: Journal | undefined;
  mark: string;
  add: (a: Action) => void;
  conflicts: Conflict[];
  /** Whether an object that exists is the lab's: by mark and identity, never by the journal's claim. */
  nsVerdict: (ns: string) => Verdict;
  linkVerdict: (name: string, o: LinkState) => Verdict;
  /** Namespaces this plan creates (nothing in them is read). */
  fresh: Set<string>;
  /** Namespaces this plan deletes. */
  removedNs: string[];
  /** "ns/name" of links this plan creates, and of links it deletes. */
  created: Set<string>;
  deleted: Set<string>;
  /** Host links in the way that are not the lab's (conflicts: left alone). */
  foreignHost: Set<string>;
  /** Per namespace, tables ("ipv4/nat") taken out of the rules that use a re-created ipset: restored after, with the sets' names. */
  unhooked: Map<string, Map<string, string[]>>;
}

const EMPTY_NS: ObservedNs = { links: new Map(), routes: [], rules: [], sysctls: new Map(), iptables: new Map() };

export function context(desired: DesiredState, observed: ObservedState, journal: Journal | undefined, add: (a: Action) => void): Ctx {
  return {
    desired,
    observed,
    journal,
    mark: markOf(desired.lab),
    add,
    conflicts: [],
    nsVerdict: (ns) => judgeNs(desired.lab, journal?.ids?.ns?.[ns], { id: observed.ids?.get(ns), mark: observed.ns.get(ns)?.mark, markRead: observed.ns.has(ns) }),
    linkVerdict: (name, o) => judgeLink(desired.lab, journal?.ids?.links?.[name], { ...(o.alias ? { alias: o.alias } : {}), ...(o.ifindex !== undefined ? { ifindex: o.ifindex } : {}) }),
    fresh: new Set(),
    removedNs: [],
    created: new Set(),
    deleted: new Set(),
    foreignHost: new Set(),
    unhooked: new Map(),
  };
}

/** The kernel's side of a namespace: empty for one this plan creates. */
export function obsNs(c: Ctx, ns: string): ObservedNs {
  return c.fresh.has(ns) ? EMPTY_NS : (c.observed.ns.get(ns) ?? EMPTY_NS);
}

/** Namespaces whose routes, rules and iptables the lab owns whole (not the host's). */
export const owned = (ns: string) => ns !== HOST;

/** An object in the way that is not the lab's: what it is, and the way out. */
export function conflictOf(lab: string, object: string, what: string, name: string, mark: string | undefined, v: Verdict, remove: string, rename: string): Conflict {
  const why = v.ours ? '' : v.why;
  const other = otherLab(lab, mark);
  if (other && !why.startsWith('it was re-created')) return { object, message: `${what} '${name}' belongs to lab '${other}'`, hint: `take that lab down first (netlab down ${other}), or ${rename}` };
  const message =
    why.startsWith('it was re-created') || why.includes('another run')
      ? `${what} '${name}' is not the one lab '${lab}' made: ${why}`
      : `${what} '${name}' already exists and was not made by lab '${lab}' (${why})`;
  return { object, message, hint: `it is not this lab's: remove it (${remove}) if nothing needs it, or ${rename}` };
}

/** Pairs each desired item with an unused observed one; returns what is left on both sides. */
export function match<D, O>(desired: D[], observed: O[], eq: (d: D, o: O) => boolean): { missing: D[]; extra: O[] } {
  const used = new Set<number>();
  const missing: D[] = [];
  for (const d of desired) {
    const i = observed.findIndex((o, k) => !used.has(k) && eq(d, o));
    if (i < 0) missing.push(d);
    else used.add(i);
  }
  return { missing, extra: observed.filter((_, k) => !used.has(k)) };
}

/** The lab object a link serves, for messages. */
export function linkObject(ns: string, l: LinkState): string {
  return l.object ?? `${nsLabel(ns)}:${l.name}`;
}
