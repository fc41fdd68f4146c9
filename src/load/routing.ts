// The routing sections of a node: routes and policy rules, in the long form or as ip(8) arguments.
import { ROUTE_TYPES, type Family, type RouteSpec, type RuleSpec, type SrcPath } from '../model/types.js';
import { contains, hasHostBits, isLinkLocal6, networkOf, parseAddress, parsePrefix } from '../model/net.js';
import { didYouMean } from './problems.js';
import { canonicalMark, parseRouteString, parseRuleString, tableId, tableProblem, type RawRoute, type RawRule } from './syntax.js';
import type { LabContext } from './context.js';
import type { RawRouteObject, RawRuleObject } from './raw.js';

/** A node's routes; run after its interfaces and addresses are known (devices, gateways, sources). */
export function normalizeRoutes(ctx: LabContext, ns: string, raw: (string | RawRouteObject)[], path: SrcPath): RouteSpec[] {
  /** Where each route's gateway is written, for messages about it. */
  const viaPath = new Map<RouteSpec, SrcPath>();
  const routes: RouteSpec[] = [];
  raw.forEach((r, i) => {
    const rs = route(ctx, viaPath, ns, r, [...path, i]);
    if (rs) routes.push(rs);
  });
  checkGateways(ctx, viaPath, ns, routes);
  return routes;
}

/** A node's policy routing rules. */
export function normalizeRules(ctx: LabContext, ns: string, raw: (string | RawRuleObject)[], path: SrcPath): RuleSpec[] {
  const rules: RuleSpec[] = [];
  raw.forEach((r, i) => {
    const rs = rule(ctx, ns, r, [...path, i]);
    if (rs) rules.push(rs);
  });
  return rules;
}

function route(ctx: LabContext, viaPath: Map<RouteSpec, SrcPath>, ns: string, r: string | RawRouteObject, path: SrcPath): RouteSpec | undefined {
  // The object form is what the string form parses to, checked further here for both.
  const raw: RawRoute | string = typeof r === 'string' ? parseRouteString(r) : r;
  if (typeof raw === 'string') {
    ctx.err(path, `invalid route '${String(r)}': ${raw}`, "ip route syntax, e.g. 'default via 192.168.20.1' or '10.0.0.0/8 dev eth0 scope link'");
    return undefined;
  }
  const at = (k: string): SrcPath => (typeof r === 'string' ? path : [...path, k]);
  let family: Family | undefined;
  let via: string | undefined;
  if (raw.via !== undefined) {
    const a = parseAddress(raw.via);
    if (!a) return (ctx.err(at('via'), `invalid gateway address '${raw.via}'`, 'a gateway is one address, without a prefix length, e.g. via 192.168.20.1'), undefined);
    family = a.family;
    via = a.addr;
  }
  const to = parsePrefix(raw.to!, family);
  if (!to) return (ctx.err(at('to'), `invalid destination '${raw.to}'`, 'write default, an address, or a prefix such as 10.0.0.0/8'), undefined);
  if (family && to.family !== family) return (ctx.err(path, `destination ${to.text} and gateway ${via} are of different address families`), undefined);
  if (hasHostBits(to)) return (ctx.err(at('to'), `destination ${to.text} has host bits set`, `did you mean ${networkOf(to)}/${to.len}?`), undefined);
  const type = (raw.type ?? 'unicast') as RouteSpec['type'];
  if (!(ROUTE_TYPES as readonly string[]).includes(type)) return (ctx.err(at('type'), `unknown route type '${type}'`, `use one of ${ROUTE_TYPES.join(', ')}`), undefined);
  // Without a table, ip route files a local route in the local table (255), the others in main.
  const table = raw.table === undefined && type === 'local' ? 255 : tableId(raw.table);
  if (table === undefined) {
    const t = tableProblem(raw.table!);
    return (ctx.err(at('table'), t.message, t.hint), undefined);
  }
  if (raw.metric !== undefined && (!Number.isInteger(raw.metric) || raw.metric < 0 || raw.metric > 0xffffffff))
    return (ctx.err(at('metric'), `metric ${raw.metric} is out of range`, 'use 0-4294967295'), undefined);
  if (type === 'unicast' && !via && !raw.dev) return (ctx.err(path, `route to ${to.text} needs 'via' or 'dev'`), undefined);
  if (raw.dev !== undefined && !ctx.ifaces.get(ns)?.has(raw.dev)) {
    const known = [...(ctx.ifaces.get(ns)?.keys() ?? [])];
    return (ctx.err(at('dev'), `node '${ns}' has no interface '${raw.dev}'`, didYouMean(raw.dev, known) ?? `its interfaces: ${known.join(', ')}`), undefined);
  }
  if (raw.scope !== undefined && !['global', 'link', 'host'].includes(raw.scope)) return (ctx.err(at('scope'), `unknown scope '${raw.scope}'`, 'use global, link or host'), undefined);
  let src: string | undefined;
  if (raw.src !== undefined) {
    const a = parseAddress(raw.src);
    if (!a || a.family !== to.family)
      return (ctx.err(at('src'), `invalid source address '${raw.src}'`, `an ${to.family === 'ipv4' ? 'IPv4' : 'IPv6'} address of node '${ns}', without a prefix length`), undefined);
    // The kernel refuses a preferred source the namespace does not own (a local route may name its own destination).
    const own = (ctx.subnets.get(ns) ?? []).some((c) => c.addr === a.addr) || (a.family === 'ipv4' && a.addr.startsWith('127.')) || a.addr === '::1' || (type === 'local' && to.addr === a.addr);
    if (!own) {
      const mine = (ctx.subnets.get(ns) ?? []).filter((c) => c.family === a.family).map((c) => c.addr);
      return (
        ctx.err(
          at('src'),
          `source address ${a.addr} is not an address of node '${ns}'`,
          mine.length ? `its ${a.family === 'ipv4' ? 'IPv4' : 'IPv6'} addresses: ${mine.join(', ')}` : `give one of its interfaces the address ${a.addr} first`,
        ),
        undefined
      );
    }
    src = a.addr;
  }
  const spec: RouteSpec = {
    type,
    to: to.text,
    family: to.family,
    ...(via ? { via } : {}),
    ...(raw.dev ? { dev: raw.dev } : {}),
    ...(raw.scope ? { scope: raw.scope as RouteSpec['scope'] } : {}),
    ...(raw.metric !== undefined ? { metric: raw.metric } : {}),
    table,
    ...(src ? { src } : {}),
    ...(raw.onlink ? { onlink: true } : {}),
    path,
  };
  viaPath.set(spec, at('via'));
  return spec;
}

/** A gateway must be inside one of the node's subnets or reached by a declared on-link route. */
function checkGateways(ctx: LabContext, viaPath: Map<RouteSpec, SrcPath>, ns: string, routes: RouteSpec[]): void {
  const subnets = [...(ctx.subnets.get(ns) ?? [])];
  for (const r of routes) if (!r.via && r.type === 'unicast' && r.dev) subnets.push(parsePrefix(r.to)!);
  for (const r of routes) {
    if (!r.via || r.onlink) continue;
    if (isLinkLocal6(r.via)) {
      // Every interface has an fe80::/64 of its own: the kernel needs to be told which one.
      if (!r.dev) ctx.err(viaPath.get(r) ?? r.path, `link-local gateway ${r.via} needs 'dev'`, `add the interface it is reached on, e.g. 'default via ${r.via} dev eth0'`);
      continue;
    }
    if (!subnets.some((s) => contains(s, r.via!))) {
      ctx.err(
        viaPath.get(r) ?? r.path,
        `gateway ${r.via} is not reachable from node '${ns}': no interface address or on-link route covers it`,
        `give an interface of '${ns}' an address in the gateway's subnet, add a route '${r.via} dev IFACE scope link' first, or add 'onlink'`,
      );
    }
  }
}

function rule(ctx: LabContext, ns: string, r: string | RawRuleObject, path: SrcPath): RuleSpec | undefined {
  const raw: RawRule | string = typeof r === 'string' ? parseRuleString(r) : r;
  if (typeof raw === 'string') {
    ctx.err(path, `invalid rule '${String(r)}': ${raw}`, "ip rule syntax, e.g. 'fwmark 0x1/0x1 pref 100 table 100'");
    return undefined;
  }
  const at = (k: string): SrcPath => (typeof r === 'string' ? path : [...path, k]);
  let family: Family | undefined;
  const pfx = (k: 'from' | 'to'): string | undefined => {
    const v = raw[k];
    if (v === undefined || v === 'all') return undefined;
    const c = parsePrefix(v);
    if (!c) {
      ctx.err(at(k), `invalid prefix '${v}'`);
      return undefined;
    }
    if (hasHostBits(c)) ctx.err(at(k), `${c.text} has host bits set`, `did you mean ${networkOf(c)}/${c.len}?`);
    if (family && family !== c.family) ctx.err(path, 'from and to are of different address families');
    family = c.family;
    return c.text;
  };
  const from = pfx('from');
  const to = pfx('to');
  const table = tableId(raw.table);
  if (table === undefined) {
    const t = tableProblem(raw.table!);
    return (ctx.err(at('table'), t.message, t.hint), undefined);
  }
  let fwmark: string | undefined;
  if (raw.fwmark !== undefined) {
    fwmark = canonicalMark(raw.fwmark);
    if (!fwmark) return (ctx.err(at('fwmark'), `invalid fwmark '${String(raw.fwmark)}'`, 'write MARK or MARK/MASK as 32-bit numbers (decimal or 0x hex), e.g. 0x1/0x1'), undefined);
  }
  if (raw.pref !== undefined && (raw.pref < 1 || raw.pref > 32765))
    return (ctx.err(at('pref'), `pref ${raw.pref} is out of range`, '0, 32766 and 32767 hold the kernel default rules: use 1-32765'), undefined);
  for (const k of ['iif', 'oif'] as const) {
    const v = raw[k];
    if (v !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/.test(v)) return (ctx.err(at(k), `invalid interface name '${v}'`), undefined);
  }
  void ns;
  return {
    family: family ?? 'ipv4',
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    ...(fwmark ? { fwmark } : {}),
    ...(raw.iif ? { iif: raw.iif } : {}),
    ...(raw.oif ? { oif: raw.oif } : {}),
    ...(raw.pref !== undefined ? { pref: raw.pref } : {}),
    table,
    path,
  };
}
