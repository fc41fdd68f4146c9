// The sysctls sections: a node's (net.* only, per namespace) and the host's.
import { HOST, type SrcPath, type SysctlSpec } from '../model/types.js';
import { didYouMean } from './problems.js';
import { parseSysctlKey, sysctlDisplay } from './syntax.js';
import type { LabContext } from './context.js';
import type { RawSysctls } from './raw.js';

/** Sysctls of namespace ns (HOST for the host's): keys checked by shape and against the interfaces of ns. */
export function normalizeSysctls(ctx: LabContext, raw: RawSysctls, path: SrcPath, ns: string): SysctlSpec[] {
  const out: SysctlSpec[] = [];
  const seen = new Map<string, string>();
  for (const [key, v] of Object.entries(raw)) {
    const p = [...path, key];
    const k = parseSysctlKey(key);
    if (typeof k === 'string') {
      ctx.err(p, `invalid sysctl key '${key}': ${k}`, undefined, true);
      continue;
    }
    if (ns !== HOST && !k.path.startsWith('net/')) {
      ctx.err(
        p,
        `sysctl '${key}' is not per network namespace: setting it in node '${ns}' would change the whole host`,
        "only net.* keys can be set in a node; host-wide keys go under 'host: sysctls:'",
        true,
      );
      continue;
    }
    if (k.iface !== undefined && !['all', 'default'].includes(k.iface)) {
      const known = ctx.ifaces.get(ns)!;
      if (!known.has(k.iface)) {
        const where = ns === HOST ? 'the lab has no host interface' : `node '${ns}' has no interface`;
        ctx.err(
          p,
          `${where} '${k.iface}'`,
          didYouMean(k.iface, known.keys()) ??
            (ns === HOST ? "host sysctls may name only the lab's own bridges and host-side veth ends, or all/default" : `its interfaces: ${[...known.keys()].join(', ')}`),
          true,
        );
        continue;
      }
    }
    // The kernel registers neigh/default only in the initial namespace, and a node never is one.
    if (ns !== HOST && k.iface === 'default' && k.path.split('/')[2] === 'neigh') {
      const leaf = k.path.split('/').pop()!;
      const hint = leaf.startsWith('gc_')
        ? "the neighbour table's gc_* limits are one per kernel: set them under 'host: sysctls:' where netlab runs in the initial namespace"
        : `set it per interface in the node (${sysctlDisplay(k.path.replace('/default/', `/${[...ctx.ifaces.get(ns)!.keys()].find((i) => i !== 'lo') ?? 'eth0'}/`))})`;
      ctx.err(p, `sysctl '${key}' exists only in the initial network namespace, never in a node`, hint, true);
      continue;
    }
    const value = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    if (/[\r\n\0]/.test(value) || value.trim() === '') {
      ctx.err(p, 'a sysctl value must be one non-empty line');
      continue;
    }
    if (seen.has(k.path)) {
      ctx.err(p, `sysctl '${key}' is set twice (also as '${seen.get(k.path)}')`, undefined, true);
      continue;
    }
    seen.set(k.path, key);
    out.push({ key: k.path, value: value.trim().replace(/\s+/g, ' '), path: p });
  }
  return out;
}
