// Namespaces: which existing ones are the lab's; create the missing, refuse the foreign, delete
// the ones the lab no longer has.
import { HOST } from '../../model/types.js';
import type { Verdict } from '../../model/ownership.js';
import { conflictOf, type Ctx } from './context.js';

/** Whether each existing namespace and host link that the lab, its journal or its mark names is the lab's. */
export function ownershipOf(c: Ctx): { ns: Map<string, Verdict>; hostLinks: Map<string, Verdict> } {
  const { desired, observed, journal } = c;
  const ownership = { ns: new Map<string, Verdict>(), hostLinks: new Map<string, Verdict>() };
  const jHostLinks = new Set(journal?.hostLinks ?? []);
  for (const ns of new Set([...desired.namespaces, ...(journal?.namespaces ?? [])])) if (observed.netns.has(ns)) ownership.ns.set(ns, c.nsVerdict(ns));
  for (const [name, o] of observed.ns.get(HOST)?.links ?? []) {
    if (jHostLinks.has(name) || o.alias === c.mark || desired.ns.get(HOST)?.links.has(name)) ownership.hostLinks.set(name, c.linkVerdict(name, o));
  }
  return ownership;
}

export function diffNamespaces(c: Ctx): void {
  const { desired, observed, journal } = c;
  for (const ns of desired.namespaces) {
    if (!observed.netns.has(ns)) {
      c.add({ kind: 'netns.add', ns, object: `node ${ns}`, reason: 'not in the kernel' });
      c.fresh.add(ns);
      continue;
    }
    const v = c.nsVerdict(ns);
    if (!v.ours) c.conflicts.push(conflictOf(desired.lab, `node ${ns}`, 'namespace', ns, observed.ns.get(ns)?.mark, v, `ip netns del ${ns}`, 'rename the node'));
  }
  c.removedNs.push(...(journal?.namespaces ?? []).filter((ns, i, all) => all.indexOf(ns) === i && !desired.namespaces.includes(ns) && observed.netns.has(ns) && c.nsVerdict(ns).ours));
  for (const ns of c.removedNs) c.add({ kind: 'netns.del', ns, object: `node ${ns}`, reason: 'no longer in the lab file' });
}
