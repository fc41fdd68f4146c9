// Routes of a lab namespace: add, replace (same kernel key, other route) or delete.
import type { RouteState } from '../../model/types.js';
import { match, type Ctx } from './context.js';

export function routeMatches(d: RouteState, o: RouteState): boolean {
  return (
    d.type === o.type &&
    d.family === o.family &&
    d.to === o.to &&
    d.table === o.table &&
    d.metric === o.metric &&
    d.scope === o.scope &&
    (d.via ?? '') === (o.via ?? '') &&
    (!d.dev || d.dev === o.dev) &&
    (!d.src || d.src === o.src) &&
    !!d.onlink === !!o.onlink
  );
}

/** Same kernel key (ip route replace would overwrite it). */
function routeSameKey(d: RouteState, o: RouteState): boolean {
  return d.family === o.family && d.to === o.to && d.table === o.table && d.metric === o.metric;
}

export function diffRoutes(c: Ctx, ns: string, want: RouteState[], have: RouteState[]): void {
  const object = `node ${ns}`;
  const r = match(want, have, routeMatches);
  const extra = [...r.extra];
  for (const d of r.missing) {
    const i = extra.findIndex((o) => routeSameKey(d, o) && o.type === d.type);
    if (i >= 0) {
      extra.splice(i, 1);
      c.add({ kind: 'route.replace', ns, route: d, object, reason: 'changed' });
    } else c.add({ kind: 'route.add', ns, route: d, object, reason: 'not in the kernel' });
  }
  for (const o of extra) c.add({ kind: 'route.del', ns, route: o, object, reason: 'not in the lab file' });
}
