// Sysctls: host ones are restored by down; node ones when the lab stops setting them.
import { sysctlSides } from '../../model/hoststate.js';
import { HOST } from '../../model/types.js';
import { obsNs, type Ctx } from './context.js';

/** The entries of a sysctl map whose keys match. */
function pick(m: Map<string, string>, re: RegExp): Record<string, string> {
  return Object.fromEntries([...m].filter(([k]) => re.test(k)));
}

/** Recorded side values to write back: those whose key still exists (the interface is still there). */
function restorable(recorded: Record<string, string>, re: RegExp, now: Map<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(recorded).filter(([k]) => re.test(k) && now?.has(k)));
}

export function diffSysctls(c: Ctx): void {
  const { desired, observed, journal } = c;
  const sysctlNs: [string, Map<string, string>][] = [...desired.ns].map(([ns, s]) => [ns, ns === HOST ? desired.hostSysctls : s.sysctls]);
  for (const [ns, want] of sysctlNs) {
    const have = obsNs(c, ns).sysctls;
    const recorded = journal?.sysctls[ns] ?? {};
    for (const [key, value] of want) {
      const cur = have.get(key);
      if (cur === value) continue;
      c.add({
        kind: 'sysctl.set',
        ns,
        key,
        value,
        ...(cur !== undefined && recorded[key] === undefined ? { previous: cur } : {}),
        ...(ns === HOST && recorded[key] === undefined && observed.hostSysctlSides && sysctlSides(key) ? { sides: pick(observed.hostSysctlSides, sysctlSides(key)!) } : {}),
        object: ns === HOST ? 'host' : `node ${ns}`,
        reason: cur === undefined ? 'not read' : `is ${cur}`,
      });
    }
    for (const [key, prev] of Object.entries(recorded)) {
      if (want.has(key) || have.get(key) === undefined || have.get(key) === prev) continue;
      const sides = ns === HOST && sysctlSides(key) ? restorable(journal?.hostSysctlSides ?? {}, sysctlSides(key)!, observed.hostSysctlSides) : {};
      c.add({
        kind: 'sysctl.set',
        ns,
        key,
        value: prev,
        ...(Object.keys(sides).length ? { restoreSides: sides } : {}),
        object: ns === HOST ? 'host' : `node ${ns}`,
        reason: 'no longer in the lab file: restore',
      });
    }
  }
}
