// Which optional kernel features a lab needs, and the lab object that needs each (pure).
// veth and bridge are needed by every lab and are not listed: `netlab doctor` checks them.
import { qdiscOf } from './impair.js';
import type { Lab } from './types.js';

/** The kernel features netlab knows (src/doctor/features.ts says how each is probed). */
export type Feature = 'veth' | 'bridge' | 'vxlan' | 'macvlan' | 'netem' | 'tbf' | 'htb' | 'vlan' | 'vrf' | 'dummy' | 'bond' | 'wireguard' | 'tproxy' | 'nft-trace' | 'conntrack' | 'ipset';

export interface FeatureNeed {
  feature: Feature;
  /** The first lab object that needs it, for the message ("link site-a:wan0 <-> site-b:wan0"). */
  object: string;
}

export function labFeatures(lab: Lab): FeatureNeed[] {
  const out = new Map<Feature, string>();
  const need = (feature: Feature, object: string) => {
    if (!out.has(feature)) out.set(feature, object);
  };
  for (const l of lab.links) {
    for (const e of l.ends) {
      const q = qdiscOf(e.impair);
      if (q) need(q.kind, `impairment on ${e.at}:${e.name}`);
    }
  }
  for (const n of lab.nodes.values()) {
    for (const i of n.interfaces) need(i.type, `${i.type} ${n.name}:${i.name}`);
    for (const s of n.ipsets) need('ipset', `ipset ${s.name} in ${n.name}`);
    for (const family of ['ipv4', 'ipv6'] as const) {
      for (const [table, chains] of n.iptables[family]) {
        for (const c of chains) for (const r of c.rules) if (/(^|\s)-j\s+TPROXY(\s|$)/.test(r.text)) need('tproxy', `${family === 'ipv4' ? 'iptables' : 'ip6tables'} ${table} ${c.name} in ${n.name}`);
      }
    }
  }
  for (const c of lab.checks) if (c.kind === 'trace') need('nft-trace', `check ${c.label}`);
  return [...out].map(([feature, object]) => ({ feature, object }));
}
