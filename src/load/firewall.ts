// The iptables and ip6tables sections, of a node or of the host: chains, policies and rule text.
import { IPT_TABLES, type ChainSpec, type SrcPath, type TablesSpec } from '../model/types.js';
import { BUILTIN_CHAINS } from '../model/iptables.js';
import { didYouMean } from './problems.js';
import { IPT_TARGETS, checkIptablesRule } from './syntax.js';
import type { LabContext } from './context.js';
import type { RawTables } from './raw.js';

/** One iptables or ip6tables section; host rules may jump only to targets (netlab makes no host chains). */
export function normalizeTables(ctx: LabContext, raw: RawTables, path: SrcPath, host: boolean): TablesSpec {
  const out: TablesSpec = new Map();
  for (const table of IPT_TABLES) {
    const chains = raw[table];
    if (!chains) continue;
    const builtins = BUILTIN_CHAINS[table]!;
    const specs: ChainSpec[] = [];
    const names = Object.keys(chains);
    for (const [name, c] of Object.entries(chains)) {
      const cp = [...path, table, name];
      const builtin = builtins.includes(name);
      if (!builtin && /^[A-Z]+$/.test(name) && ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'].includes(name)) {
        ctx.err(cp, `table ${table} has no built-in chain ${name}`, `its chains: ${builtins.join(', ')}`, true);
        continue;
      }
      if (!builtin && IPT_TARGETS.has(name)) {
        ctx.err(cp, `'${name}' is a target name and cannot name a chain`, undefined, true);
        continue;
      }
      const rules = Array.isArray(c) ? c : (c.rules ?? []);
      const rulesPath = Array.isArray(c) ? cp : [...cp, 'rules'];
      const policy = Array.isArray(c) ? undefined : c.policy;
      if (policy && !builtin) ctx.err([...cp, 'policy'], `custom chain ${name} cannot have a policy`, 'only built-in chains have policies; end the chain with a rule instead');
      const spec: ChainSpec = { name, builtin, rules: [], path: cp, ...(policy && builtin ? { policy } : {}) };
      rules.forEach((text, i) => {
        const rp = [...rulesPath, i];
        const chk = checkIptablesRule(text);
        if (typeof chk === 'string') return ctx.err(rp, `invalid iptables rule: ${chk}`);
        if (chk.target && builtins.includes(chk.target))
          return ctx.err(rp, `a rule cannot jump to the built-in chain ${chk.target}`, 'jump to a custom chain, or use a target such as ACCEPT, DROP or RETURN');
        if (chk.target && !IPT_TARGETS.has(chk.target) && !names.includes(chk.target)) {
          const custom = names.filter((n) => !builtins.includes(n));
          const dym = didYouMean(chk.target, [...custom, ...IPT_TARGETS]);
          if (host)
            return ctx.err(
              rp,
              `rule jumps to '${chk.target}', which is not a target`,
              dym ?? 'host rules may only use targets such as ACCEPT, DROP, MASQUERADE: custom chains can be declared in nodes only',
            );
          return ctx.err(rp, `rule jumps to chain '${chk.target}', which does not exist in table ${table}`, dym ?? `declare it: ${table}: {${chk.target}: [...]}`);
        }
        spec.rules.push({ text, path: rp });
      });
      specs.push(spec);
    }
    out.set(table, specs);
  }
  return out;
}
