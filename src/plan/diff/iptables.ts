// iptables in lab namespaces: whole tables, compared through the journal's record.
import { resetTable } from '../../model/desired.js';
import type { Family, IptTable } from '../../model/types.js';
import { obsNs, owned, type Ctx } from './context.js';

export function diffIptables(c: Ctx): void {
  const { desired, journal } = c;
  for (const [ns, want] of desired.ns) {
    if (!owned(ns)) continue;
    const have = obsNs(c, ns);
    const recorded = journal?.iptables[ns] ?? {};
    const unhooked = c.unhooked.get(ns);
    for (const [key, d] of want.iptables) {
      const rec = recorded[key];
      const cur = have.iptables.get(key);
      const rules = (d.payload.match(/^-A /gm) ?? []).length;
      const sets = unhooked?.get(key);
      const reason = !rec
        ? 'not applied yet'
        : rec.hash !== d.hash
          ? 'rules changed in the lab file'
          : rec.saved !== cur
            ? 'changed in the kernel (drift)'
            : sets
              ? `put back around the re-created ipset ${sets.join(', ')}`
              : '';
      if (reason) c.add({ kind: 'iptables.restore', ns, family: d.family, table: d.table, payload: d.payload, hash: d.hash, rules, object: d.object, reason });
    }
    // Tables the lab never declared that have rules, custom chains or a DROP policy: made by hand.
    for (const [key, text] of have.iptables) {
      if (want.iptables.has(key) || recorded[key] || !/^(-A |-N |:\S+ DROP)/m.test(text)) continue;
      const [family, table] = key.split('/') as [Family, IptTable];
      const r = resetTable(family, table);
      c.add({ kind: 'iptables.restore', ns, ...r, rules: 0, object: `${family === 'ipv4' ? 'iptables' : 'ip6tables'} ${table} in ${ns}`, reason: 'rules added by hand (drift): reset' });
    }
    for (const key of Object.keys(recorded)) {
      if (want.iptables.has(key) || !have.iptables.has(key)) continue;
      const [family, table] = key.split('/') as [Family, IptTable];
      const r = resetTable(family, table);
      if (have.iptables.get(key) === undefined) continue;
      c.add({ kind: 'iptables.restore', ns, ...r, rules: 0, object: `${family === 'ipv4' ? 'iptables' : 'ip6tables'} ${table} in ${ns}`, reason: 'no longer in the lab file: reset' });
    }
  }
}
