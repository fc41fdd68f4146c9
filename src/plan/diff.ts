// plan: diff(desired, observed, journal) -> ordered actions. Pure: no I/O at all.
// One part per object kind, in plan/diff/; diff() runs them in a fixed order (later parts read
// what earlier ones decided: namespaces made fresh, links created or deleted), then sorts the
// actions by phase, stably.
import { HOST, type DesiredState, type ObservedState } from '../model/types.js';
import type { Journal } from '../model/journal.js';
import type { Verdict } from '../model/ownership.js';
import { PHASES, phaseOf, type Action } from './actions.js';
import { context, linkObject, obsNs, owned, type Conflict } from './diff/context.js';
import { diffNamespaces, ownershipOf } from './diff/namespaces.js';
import { diffLinks } from './diff/links.js';
import { diffLinkSettings } from './diff/settings.js';
import { diffImpairment } from './diff/impairments.js';
import { diffAddresses } from './diff/addresses.js';
import { diffRoutes } from './diff/routes.js';
import { diffRules } from './diff/rules.js';
import { diffSysctls } from './diff/sysctls.js';
import { diffIptables } from './diff/iptables.js';
import { diffIpsets } from './diff/ipsets.js';
import { diffHostRules } from './diff/hostrules.js';
import { diffProcesses } from './diff/processes.js';

export type { Conflict } from './diff/context.js';
export { routeMatches } from './diff/routes.js';
export { ruleMatches } from './diff/rules.js';
export { hostRuleActions } from './diff/hostrules.js';

export interface Plan {
  lab: string;
  actions: Action[];
  conflicts: Conflict[];
  /** Whether each existing namespace and host link that the lab, its journal or its mark names is the lab's. */
  ownership: { ns: Map<string, Verdict>; hostLinks: Map<string, Verdict> };
}

export function diff(desired: DesiredState, observed: ObservedState, journal: Journal | undefined): Plan {
  const actions: Action[] = [];
  const c = context(desired, observed, journal, (a) => actions.push(a));
  const ownership = ownershipOf(c);
  diffNamespaces(c);
  diffLinks(c);
  // Per link its settings, impairment and addresses; then the namespace's routes and rules.
  for (const [ns, want] of desired.ns) {
    const have = obsNs(c, ns);
    for (const l of want.links.values()) {
      if (ns === HOST && c.foreignHost.has(l.name)) continue; // a conflict
      const key = `${ns}/${l.name}`;
      const o = c.created.has(key) || c.deleted.has(key) ? undefined : have.links.get(l.name);
      const object = linkObject(ns, l);
      diffLinkSettings(c, ns, want, l, o, object);
      diffImpairment(c, ns, l, o, object);
      diffAddresses(c, ns, l, o, object);
    }
    if (!owned(ns)) continue;
    diffRoutes(c, ns, want.routes, have.routes);
    diffRules(c, ns, want.rules, have.rules);
  }
  diffSysctls(c);
  diffIpsets(c);
  diffIptables(c);
  diffHostRules(c);
  diffProcesses(c);
  return { lab: desired.lab, actions: order(actions), conflicts: c.conflicts, ownership };
}

/** Stable order by phase; deletions in reverse dependency order (routes, rules, addresses, links). */
function order(actions: Action[]): Action[] {
  const rank = (a: Action) => {
    const p = PHASES.indexOf(phaseOf(a)) * 100;
    const within = ['route.del', 'rule.del', 'addr.del', 'link.del', 'netns.del', 'hostipt.del'].indexOf(a.kind);
    return p + (within < 0 ? 50 : within);
  };
  return actions
    .map((a, i) => [a, i] as const)
    .sort((x, y) => rank(x[0]) - rank(y[0]) || x[1] - y[1])
    .map(([a]) => a);
}
