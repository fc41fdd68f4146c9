// ipsets in lab namespaces: created before the rules, members changed in place, re-created (the
// rules that use them taken out around it) when the type or family changes, destroyed after the
// rules. A lab namespace is the lab's alone: a set there that the lab does not declare goes too.
import { ruleNamesSet, sameSetKind, withoutSetRules } from '../../model/ipset.js';
import type { Family, IpsetState, IptTable } from '../../model/types.js';
import { obsNs, owned, type Ctx } from './context.js';

const EMPTY = new Map<string, IpsetState>();

export function diffIpsets(c: Ctx): void {
  const { desired, journal } = c;
  for (const [ns, want] of desired.ns) {
    if (!owned(ns)) continue;
    const have = obsNs(c, ns);
    const sets = have.ipsets ?? EMPTY;
    if (!want.ipsets.size && !sets.size) continue;
    const object = (name: string) => `ipset ${name} in ${ns}`;
    const recreated = new Set<string>();
    for (const [name, d] of want.ipsets) {
      const o = sets.get(name);
      if (!o) {
        c.add({ kind: 'ipset.create', ns, set: d, object: object(name), reason: 'not created yet' });
        continue;
      }
      if (!sameSetKind(d, o)) {
        recreated.add(name);
        const was = `${o.type}${o.family === 'ipv6' ? ' inet6' : ''}`;
        const now = `${d.type}${d.family === 'ipv6' ? ' inet6' : ''}`;
        c.add({ kind: 'ipset.destroy', ns, name, object: object(name), reason: `is ${was}, the lab file says ${now}: re-created`, replace: true });
        c.add({ kind: 'ipset.create', ns, set: d, object: object(name), reason: `is ${was}, the lab file says ${now}: re-created`, replace: true });
        continue;
      }
      const add = d.members.filter((m) => !o.members.includes(m));
      const del = o.members.filter((m) => !d.members.includes(m));
      if (add.length || del.length) c.add({ kind: 'ipset.update', ns, name, add, del, object: object(name), reason: 'members differ from the lab file' });
    }
    // The kernel refuses to destroy a set that a rule names: each table that names a re-created
    // set is restored without those rules first, and restored whole again in the firewall phase.
    if (recreated.size) {
      const tables = new Map<string, string[]>();
      for (const [key, text] of have.iptables) {
        const lines = text.split('\n').filter((l) => l.startsWith('-A ') && ruleNamesSet(l, recreated));
        if (!lines.length) continue;
        const [family, table] = key.split('/') as [Family, IptTable];
        const names = [...recreated].filter((n) => lines.some((l) => ruleNamesSet(l, new Set([n]))));
        tables.set(key, names);
        c.add({
          kind: 'iptables.unhook',
          ns,
          family,
          table,
          payload: withoutSetRules(table, text, recreated),
          sets: names,
          object: `${family === 'ipv4' ? 'iptables' : 'ip6tables'} ${table} in ${ns}`,
          reason: `ipset ${names.join(', ')} is re-created: the rules come back after`,
        });
      }
      c.unhooked.set(ns, tables);
    }
    const made = journal?.ipsets?.[ns] ?? [];
    for (const name of sets.keys()) {
      if (want.ipsets.has(name)) continue;
      c.add({ kind: 'ipset.destroy', ns, name, object: object(name), reason: made.includes(name) ? 'no longer in the lab file' : 'made by hand (drift)' });
    }
  }
}
