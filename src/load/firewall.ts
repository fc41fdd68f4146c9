// The iptables and ip6tables sections, of a node or of the host: chains, policies and rule text.
import { IPT_TABLES, type ChainSpec, type Family, type IpsetSpec, type SrcPath, type TablesSpec } from '../model/types.js';
import { BUILTIN_CHAINS } from '../model/iptables.js';
import { dimensionOf, setsOf } from '../model/ipset.js';
import { didYouMean } from './problems.js';
import { IPT_TARGETS, checkIptablesRule } from './syntax.js';
import type { LabContext } from './context.js';
import type { RawTables } from './raw.js';

/** Why the host namespace gets no ipsets: said where a lab declares some there, or a host rule names one. */
export const HOST_SETS = {
  message: 'netlab cannot own ipsets in the host namespace',
  hint: 'the kernel keeps no owner or identity for a set (a name or a comment is no proof: anyone can make one alike), so netlab could not prove a host set its own before changing or destroying it; declare the set and the rules that use it in a node',
};

/** The ipsets a node declares, for the rules that name them (none for the host). */
export interface DeclaredSets {
  declared: IpsetSpec[];
  path: SrcPath;
}

/** Problems with the sets a rule names: each must be declared on the node, of the table's family, with no more src/dst flags than it has dimensions. */
function checkSetRefs(ctx: LabContext, tokens: string[], rp: SrcPath, family: Family, sets: DeclaredSets | undefined): boolean {
  for (const ref of setsOf(tokens)) {
    if (!sets) {
      ctx.err(rp, `host rules cannot name an ipset ('${ref.name}'): ${HOST_SETS.message}`, HOST_SETS.hint);
      return false;
    }
    const set = sets.declared.find((s) => s.name === ref.name);
    if (!set) {
      const names = sets.declared.map((s) => s.name);
      ctx.err(
        rp,
        `rule names ipset '${ref.name}', which this node does not declare`,
        didYouMean(ref.name, names) ?? `declare it under ${sets.path.join('.')}: {${ref.name}: {type: hash:net, members: [...]}}${names.length ? ` (its sets: ${names.join(', ')})` : ''}`,
      );
      return false;
    }
    if (set.family !== family) {
      ctx.err(
        rp,
        `ipset '${ref.name}' is an ${set.family === 'ipv4' ? 'IPv4' : 'IPv6'} set: ${family === 'ipv4' ? 'iptables' : 'ip6tables'} rules cannot match it`,
        `write the rule under ${set.family === 'ipv4' ? 'iptables' : 'ip6tables'}`,
      );
      return false;
    }
    const flags = tokens[ref.at] === '--match-set' ? ref.flags : undefined;
    if (tokens[ref.at] === '--match-set' && (!flags || !/^(src|dst)(,(src|dst))*$/.test(flags))) {
      ctx.err(rp, `'--match-set ${ref.name}' needs its flags: src, dst, or one per dimension such as src,dst`, `e.g. -m set --match-set ${ref.name} src`);
      return false;
    }
    if (flags && flags.split(',').length > dimensionOf(set.type)) {
      ctx.err(
        rp,
        `'--match-set ${ref.name} ${flags}' names ${flags.split(',').length} dimensions, but ${set.type} has ${dimensionOf(set.type)}: the kernel would ignore the rest`,
        `write one flag per dimension, e.g. --match-set ${ref.name} ${flags.split(',').slice(0, dimensionOf(set.type)).join(',')}`,
      );
      return false;
    }
  }
  return true;
}

/** One iptables or ip6tables section; host rules may jump only to targets (netlab makes no host chains) and name no ipsets. */
export function normalizeTables(ctx: LabContext, raw: RawTables, path: SrcPath, family: Family, sets?: DeclaredSets): TablesSpec {
  const host = !sets;
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
        if (!checkSetRefs(ctx, chk.tokens, rp, family, sets)) return;
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
