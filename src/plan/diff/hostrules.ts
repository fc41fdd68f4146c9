// Host iptables: the lab's tagged rules, one by one, among the host's own.
import { HOST, type Family, type HostRule } from '../../model/types.js';
import type { Action } from '../actions.js';
import type { Ctx } from './context.js';

export function diffHostRules(c: Ctx): void {
  const { desired, observed, journal } = c;
  const before = (f: Family) => (journal?.hostTablesBefore?.[f] ? {} : { tablesBefore: observed.hostTables[f] ?? [], ...(observed.hostChains ? { chainsBefore: observed.hostChains[f] ?? [] } : {}) });
  for (const a of hostRuleActions(desired.hostIptables, journal?.hostIptables ?? [], observed.hostIptables)) c.add(a.kind === 'hostipt.add' ? { ...a, ...before(a.rule.family) } : a);
}

const chainOf = (r: HostRule) => `${r.family} ${r.table} ${r.chain}`;

/**
 * Host rules one by one: a rule the kernel holds as the journal recorded it after it was written
 * stays; a missing one is inserted where it belongs among the lab's rules of its chain (the host's
 * own rules around them keep their places); a tagged rule the lab does not want goes. When the
 * lab's rules of a chain are in another order than the file's, that chain's rules are re-made.
 */
export function hostRuleActions(want: HostRule[], recorded: (HostRule & { saved?: string })[], have: HostRule[]): Action[] {
  // The form iptables-save printed for each rule as written, from the journal.
  const savedOf = new Map<string, string[]>();
  for (const r of recorded) if (r.saved !== undefined) savedOf.set(`${chainOf(r)} ${r.spec}`, [...(savedOf.get(`${chainOf(r)} ${r.spec}`) ?? []), r.saved]);
  const out: Action[] = [];
  const adds: Action[] = [];
  for (const chain of new Set([...want, ...have].map(chainOf))) {
    const ws = want.filter((r) => chainOf(r) === chain);
    const hs = have.filter((r) => chainOf(r) === chain).sort((a, b) => (a.pos ?? 0) - (b.pos ?? 0));
    const used = new Set<HostRule>();
    let match: (HostRule | undefined)[] = ws.map((w) => {
      const forms = savedOf.get(`${chain} ${w.spec}`);
      const form = forms?.shift();
      const h = form === undefined ? undefined : hs.find((x) => !used.has(x) && x.spec === form);
      if (h) used.add(h);
      return h;
    });
    const kept = match.filter((h): h is HostRule => !!h);
    if (kept.some((h, i) => i > 0 && (h.pos ?? 0) < (kept[i - 1]!.pos ?? 0))) {
      match = ws.map(() => undefined);
      used.clear();
    }
    const gone = hs.filter((h) => !used.has(h));
    for (const h of gone) out.push({ kind: 'hostipt.del', ns: HOST, rule: h, object: 'host', reason: 'not in the lab file' });
    // Positions after the deletions; each insertion shifts the rules after it by one.
    const shifted = (pos: number) => pos - gone.filter((g) => (g.pos ?? 0) < pos).length;
    let inserted = 0;
    ws.forEach((w, i) => {
      if (match[i]) return;
      const anchor = match.slice(i + 1).find((h) => !!h);
      const at = anchor ? shifted(anchor.pos ?? 1) + inserted : w.first ? 1 + inserted : undefined;
      if (at !== undefined) inserted++;
      const { first: _first, ...rule } = w;
      adds.push({ kind: 'hostipt.add', ns: HOST, rule, object: 'host', reason: 'not in the kernel', ...(at !== undefined ? { at } : {}) });
    });
  }
  return [...out, ...adds];
}
