// Policy routing rules of a lab namespace: add the missing, delete the extra.
import type { RuleState } from '../../model/types.js';
import { match, type Ctx } from './context.js';

export function ruleMatches(d: RuleState, o: RuleState): boolean {
  return (
    d.family === o.family &&
    (d.from ?? '') === (o.from ?? '') &&
    (d.to ?? '') === (o.to ?? '') &&
    (d.fwmark ?? '') === (o.fwmark ?? '') &&
    (d.iif ?? '') === (o.iif ?? '') &&
    (d.oif ?? '') === (o.oif ?? '') &&
    d.table === o.table &&
    (d.pref === undefined || d.pref === o.pref)
  );
}

export function diffRules(c: Ctx, ns: string, want: RuleState[], have: RuleState[]): void {
  const object = `node ${ns}`;
  const ru = match(want, have, ruleMatches);
  for (const d of ru.missing) c.add({ kind: 'rule.add', ns, rule: d, object, reason: 'not in the kernel' });
  for (const o of ru.extra) c.add({ kind: 'rule.del', ns, rule: o, object, reason: 'not in the lab file' });
}
