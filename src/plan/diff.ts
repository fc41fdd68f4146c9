// plan: diff(desired, observed, journal) -> ordered actions. Pure: no I/O at all.
import { sysctlSides } from '../model/hoststate.js';
import { resetTable } from '../model/desired.js';
import {
  HOST,
  markOf,
  nsLabel,
  type DesiredState,
  type Family,
  type HostRule,
  type IptTable,
  type LinkState,
  type ObservedNs,
  type ObservedState,
  type RouteState,
  type RuleState,
} from '../model/types.js';
import type { Journal } from '../model/journal.js';
import { PHASES, phaseOf, type Action, type LinkSet } from './actions.js';
import { processKey } from '../model/processes.js';
import { impairText, qdiscMatches } from '../model/impair.js';
import { judgeLink, judgeNs, otherLab, type Verdict } from '../model/ownership.js';

/** An object in the way that the lab does not own: `up` refuses to touch it. */
export interface Conflict {
  object: string;
  message: string;
  hint: string;
}

export interface Plan {
  lab: string;
  actions: Action[];
  conflicts: Conflict[];
  /** Whether each existing namespace and host link that the lab, its journal or its mark names is the lab's. */
  ownership: { ns: Map<string, Verdict>; hostLinks: Map<string, Verdict> };
}

const EMPTY_NS: ObservedNs = { links: new Map(), routes: [], rules: [], sysctls: new Map(), iptables: new Map() };

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

/** Pairs each desired item with an unused observed one; returns what is left on both sides. */
function match<D, O>(desired: D[], observed: O[], eq: (d: D, o: O) => boolean): { missing: D[]; extra: O[] } {
  const used = new Set<number>();
  const missing: D[] = [];
  for (const d of desired) {
    const i = observed.findIndex((o, k) => !used.has(k) && eq(d, o));
    if (i < 0) missing.push(d);
    else used.add(i);
  }
  return { missing, extra: observed.filter((_, k) => !used.has(k)) };
}

function linkSet(want: LinkState, have: LinkState | undefined): { set: LinkSet; why: string[] } {
  const set: LinkSet = {};
  const why: string[] = [];
  if (want.alias && have?.alias !== want.alias) set.alias = want.alias;
  if (!have && want.addrGenNone) set.addrGenNone = true;
  if (want.mtu !== undefined && have?.mtu !== want.mtu) {
    set.mtu = want.mtu;
    if (have) why.push(`mtu ${have.mtu} -> ${want.mtu}`);
  }
  if (want.mac && have?.mac !== want.mac) {
    set.mac = want.mac;
    if (have) why.push(`mac ${have.mac} -> ${want.mac}`);
  }
  if ((want.master ?? null) !== (have?.master ?? null) && (have || want.master)) {
    set.master = want.master ?? null;
    if (have) why.push(have.master ? `was on bridge ${have.master}` : 'was on no bridge');
  }
  if (want.up !== (have?.up ?? false)) {
    set.up = want.up;
    if (have) why.push(`was ${have.up ? 'up' : 'down'}`);
  }
  return { set, why };
}

/** Why a VLAN, VRF or bond must be re-created (its kind-specific settings differ), or undefined. */
function paramsChanged(want: LinkState, have: LinkState): string | undefined {
  if (want.vlan && have.vlan && (want.vlan.id !== have.vlan.id || want.vlan.link !== have.vlan.link || want.vlan.protocol !== have.vlan.protocol))
    return `was VLAN ${have.vlan.id} on ${have.vlan.link}${have.vlan.protocol !== want.vlan.protocol ? ` (${have.vlan.protocol})` : ''}`;
  if (want.vrfTable !== undefined && have.vrfTable !== undefined && want.vrfTable !== have.vrfTable) return `was the VRF of table ${have.vrfTable}`;
  if (want.bondMode && have.bondMode && want.bondMode !== have.bondMode) return `was a bond in mode ${have.bondMode}`;
  return undefined;
}

export function diff(desired: DesiredState, observed: ObservedState, journal: Journal | undefined): Plan {
  const actions: Action[] = [];
  const conflicts: Conflict[] = [];
  const mark = markOf(desired.lab);
  const add = (a: Action) => actions.push(a);
  const jNs = new Set(journal?.namespaces ?? []);
  const jHostLinks = new Set(journal?.hostLinks ?? []);
  // Whether an object that exists is the lab's: by mark and identity, never by the journal's claim.
  const nsVerdict = (ns: string) => judgeNs(desired.lab, journal?.ids?.ns?.[ns], { id: observed.ids?.get(ns), mark: observed.ns.get(ns)?.mark, markRead: observed.ns.has(ns) });
  const linkVerdict = (name: string, o: LinkState) =>
    judgeLink(desired.lab, journal?.ids?.links?.[name], { ...(o.alias ? { alias: o.alias } : {}), ...(o.ifindex !== undefined ? { ifindex: o.ifindex } : {}) });
  const foreignHost = new Set<string>();
  const ownership: Plan['ownership'] = { ns: new Map(), hostLinks: new Map() };
  for (const ns of new Set([...desired.namespaces, ...jNs])) if (observed.netns.has(ns)) ownership.ns.set(ns, nsVerdict(ns));
  for (const [name, o] of observed.ns.get(HOST)?.links ?? []) {
    if (jHostLinks.has(name) || o.alias === mark || desired.ns.get(HOST)?.links.has(name)) ownership.hostLinks.set(name, linkVerdict(name, o));
  }

  // Namespaces: create the missing, refuse the foreign, delete the ones the lab no longer has.
  const fresh = new Set<string>();
  for (const ns of desired.namespaces) {
    if (!observed.netns.has(ns)) {
      add({ kind: 'netns.add', ns, object: `node ${ns}`, reason: 'not in the kernel' });
      fresh.add(ns);
      continue;
    }
    const v = nsVerdict(ns);
    if (!v.ours) conflicts.push(conflictOf(desired.lab, `node ${ns}`, 'namespace', ns, observed.ns.get(ns)?.mark, v, `ip netns del ${ns}`, 'rename the node'));
  }
  const removedNs = [...jNs].filter((ns) => !desired.namespaces.includes(ns) && observed.netns.has(ns) && nsVerdict(ns).ours);
  for (const ns of removedNs) add({ kind: 'netns.del', ns, object: `node ${ns}`, reason: 'no longer in the lab file' });

  const obsNs = (ns: string): ObservedNs => (fresh.has(ns) ? EMPTY_NS : (observed.ns.get(ns) ?? EMPTY_NS));
  const owned = (ns: string) => ns !== HOST;
  const peerKey = (l: LinkState) => `${l.peer!.ns}/${l.peer!.name}`;

  // Links.
  const created = new Set<string>(); // "ns/name" of links created by this plan
  const deleted = new Set<string>();
  const delLink = (ns: string, name: string, object: string, reason: string, replace = false) => {
    const key = `${ns}/${name}`;
    if (deleted.has(key)) return;
    deleted.add(key);
    add({ kind: 'link.del', ns, name, object, reason, ...(replace ? { replace } : {}) });
  };
  for (const [ns, want] of desired.ns) {
    const have = obsNs(ns);
    for (const l of want.links.values()) {
      if (l.kind === 'loopback') continue;
      const o = have.links.get(l.name);
      const object = l.object ?? `${nsLabel(ns)}:${l.name}`;
      if (o && ns === HOST) {
        const v = linkVerdict(l.name, o);
        if (!v.ours) {
          foreignHost.add(l.name);
          conflicts.push(conflictOf(desired.lab, object, 'host interface', l.name, o.alias, v, `ip link del ${l.name}`, 'rename it in the lab'));
          continue;
        }
      }
      if (o && o.kind !== l.kind) delLink(ns, l.name, object, `is a ${o.kind}, the lab wants a ${l.kind}`, true);
      if (l.kind === 'veth') {
        const peer = l.peer!;
        const po = obsNs(peer.ns).links.get(peer.name);
        const recorded = journal?.peers[ns]?.[l.name];
        const rewired = recorded !== undefined && recorded !== peerKey(l);
        const pairKey = [`${ns}/${l.name}`, `${peer.ns}/${peer.name}`].sort().join(' ');
        if (created.has(pairKey)) continue;
        const whole = o?.kind === 'veth' && po?.kind === 'veth' && !rewired;
        if (!whole) {
          if (o) delLink(ns, l.name, object, rewired ? `re-wired: was connected to ${recorded}` : `its peer ${nsLabel(peer.ns)}:${peer.name} is missing`, true);
          if (po) delLink(peer.ns, peer.name, object, `its peer ${nsLabel(ns)}:${l.name} is missing`, true);
          created.add(pairKey);
          created.add(`${ns}/${l.name}`);
          created.add(`${peer.ns}/${peer.name}`);
          add({ kind: 'link.add', ns, link: l, object, reason: o || po ? 're-create the pair' : 'not in the kernel', ...(o || po ? { replace: true } : {}) });
        }
      } else if (!o || o.kind !== l.kind || paramsChanged(l, o)) {
        const changed = o && o.kind === l.kind ? paramsChanged(l, o) : undefined;
        if (changed) delLink(ns, l.name, object, changed, true);
        created.add(`${ns}/${l.name}`);
        add({ kind: 'link.add', ns, link: l, object, reason: changed ? 're-create with the new settings' : o ? 're-create' : 'not in the kernel', ...(o ? { replace: true } : {}) });
      }
    }
    // Links the lab no longer declares.
    if (owned(ns)) {
      for (const o of have.links.values()) {
        if (o.kind === 'loopback' || want.links.has(o.name)) continue;
        const recordedPeer = journal?.peers[ns]?.[o.name];
        if (recordedPeer && deleted.has(recordedPeer)) continue;
        delLink(ns, o.name, `${nsLabel(ns)}:${o.name}`, 'not in the lab file');
      }
    }
  }
  for (const name of jHostLinks) {
    const o = observed.ns.get(HOST)?.links.get(name);
    if (!o || desired.ns.get(HOST)!.links.has(name) || !linkVerdict(name, o).ours) continue;
    const recordedPeer = journal?.peers[HOST]?.[name];
    if (recordedPeer && (deleted.has(recordedPeer) || removedNs.includes(recordedPeer.split('/')[0]!))) continue;
    delLink(HOST, name, `host:${name}`, 'no longer in the lab file');
  }

  // Per-link settings and addresses; then routes, rules, sysctls, iptables per namespace.
  for (const [ns, want] of desired.ns) {
    const have = obsNs(ns);
    for (const l of want.links.values()) {
      const key = `${ns}/${l.name}`;
      const o = created.has(key) || deleted.has(key) ? undefined : have.links.get(l.name);
      if (ns === HOST && foreignHost.has(l.name)) continue; // conflict
      const object = l.object ?? `${nsLabel(ns)}:${l.name}`;
      const { set, why } = linkSet(l, o);
      // A host link made by this plan carries the mark from the batch that creates it (render.ts).
      if (ns === HOST && created.has(key)) delete set.alias;
      if (set.master && want.links.get(set.master)?.kind === 'bond') set.downFirst = true;
      if (Object.keys(set).length) add({ kind: 'link.set', ns, name: l.name, set, object, reason: o ? why.join(', ') || "mark it as the lab's" : 'new' });
      if (l.qdisc && !qdiscMatches(l.qdisc, o?.qdisc))
        add({
          kind: 'qdisc.replace',
          ns,
          dev: l.name,
          qdisc: l.qdisc,
          object,
          reason: o?.qdisc ? `is ${o.qdisc.kind} ${impairText(o.qdisc.impair)}` : 'not in the kernel',
          ...(o?.qdisc ? {} : { fresh: true }),
        });
      else if (!l.qdisc && o?.qdisc) add({ kind: 'qdisc.del', ns, dev: l.name, object, reason: `not in the lab file (is ${o.qdisc.kind} ${impairText(o.qdisc.impair)})` });
      const haveAddrs = o?.addresses ?? [];
      for (const c of l.addresses) if (!haveAddrs.includes(c)) add({ kind: 'addr.add', ns, dev: l.name, cidr: c, object, reason: 'not in the kernel' });
      for (const c of haveAddrs) if (!l.addresses.includes(c)) add({ kind: 'addr.del', ns, dev: l.name, cidr: c, object, reason: 'not in the lab file' });
    }
    if (!owned(ns)) continue;
    const object = `node ${ns}`;
    const r = match(want.routes, have.routes, routeMatches);
    const extra = [...r.extra];
    for (const d of r.missing) {
      const i = extra.findIndex((o) => routeSameKey(d, o) && o.type === d.type);
      if (i >= 0) {
        extra.splice(i, 1);
        add({ kind: 'route.replace', ns, route: d, object, reason: 'changed' });
      } else add({ kind: 'route.add', ns, route: d, object, reason: 'not in the kernel' });
    }
    for (const o of extra) add({ kind: 'route.del', ns, route: o, object, reason: 'not in the lab file' });
    const ru = match(want.rules, have.rules, ruleMatches);
    for (const d of ru.missing) add({ kind: 'rule.add', ns, rule: d, object, reason: 'not in the kernel' });
    for (const o of ru.extra) add({ kind: 'rule.del', ns, rule: o, object, reason: 'not in the lab file' });
  }

  // Sysctls (host ones are restored by down; node ones when the lab stops setting them).
  const sysctlNs: [string, Map<string, string>][] = [...desired.ns].map(([ns, s]) => [ns, ns === HOST ? desired.hostSysctls : s.sysctls]);
  for (const [ns, want] of sysctlNs) {
    const have = obsNs(ns).sysctls;
    const recorded = journal?.sysctls[ns] ?? {};
    for (const [key, value] of want) {
      const cur = have.get(key);
      if (cur === value) continue;
      add({
        kind: 'sysctl.set',
        ns,
        key,
        value,
        ...(cur !== undefined && recorded[key] === undefined ? { previous: cur } : {}),
        ...(ns === HOST && recorded[key] === undefined && observed.hostSysctlSides && sysctlSides(key) ? { sides: pick(observed.hostSysctlSides, sysctlSides(key)!) } : {}),
        object: ns === HOST ? 'host' : `node ${ns}`,
        reason: cur === undefined ? 'not read' : `is ${cur}`,
      });
    }
    for (const [key, prev] of Object.entries(recorded)) {
      if (want.has(key) || have.get(key) === undefined || have.get(key) === prev) continue;
      const sides = ns === HOST && sysctlSides(key) ? restorable(journal?.hostSysctlSides ?? {}, sysctlSides(key)!, observed.hostSysctlSides) : {};
      add({
        kind: 'sysctl.set',
        ns,
        key,
        value: prev,
        ...(Object.keys(sides).length ? { restoreSides: sides } : {}),
        object: ns === HOST ? 'host' : `node ${ns}`,
        reason: 'no longer in the lab file: restore',
      });
    }
  }

  // iptables in lab namespaces: whole tables, compared through the journal's record.
  for (const [ns, want] of desired.ns) {
    if (!owned(ns)) continue;
    const have = obsNs(ns);
    const recorded = journal?.iptables[ns] ?? {};
    for (const [key, d] of want.iptables) {
      const rec = recorded[key];
      const cur = have.iptables.get(key);
      const rules = (d.payload.match(/^-A /gm) ?? []).length;
      const reason = !rec ? 'not applied yet' : rec.hash !== d.hash ? 'rules changed in the lab file' : rec.saved !== cur ? 'changed in the kernel (drift)' : '';
      if (reason) add({ kind: 'iptables.restore', ns, family: d.family, table: d.table, payload: d.payload, hash: d.hash, rules, object: d.object, reason });
    }
    // Tables the lab never declared that have rules, custom chains or a DROP policy: made by hand.
    for (const [key, text] of have.iptables) {
      if (want.iptables.has(key) || recorded[key] || !/^(-A |-N |:\S+ DROP)/m.test(text)) continue;
      const [family, table] = key.split('/') as [Family, IptTable];
      const r = resetTable(family, table);
      add({ kind: 'iptables.restore', ns, ...r, rules: 0, object: `${family === 'ipv4' ? 'iptables' : 'ip6tables'} ${table} in ${ns}`, reason: 'rules added by hand (drift): reset' });
    }
    for (const key of Object.keys(recorded)) {
      if (want.iptables.has(key) || !have.iptables.has(key)) continue;
      const [family, table] = key.split('/') as [Family, IptTable];
      const r = resetTable(family, table);
      if (have.iptables.get(key) === undefined) continue;
      add({ kind: 'iptables.restore', ns, ...r, rules: 0, object: `${family === 'ipv4' ? 'iptables' : 'ip6tables'} ${table} in ${ns}`, reason: 'no longer in the lab file: reset' });
    }
  }

  // Host iptables: tagged rules, one by one.
  const before = (f: Family) => (journal?.hostTablesBefore?.[f] ? {} : { tablesBefore: observed.hostTables[f] ?? [], ...(observed.hostChains ? { chainsBefore: observed.hostChains[f] ?? [] } : {}) });
  for (const a of hostRuleActions(desired.hostIptables, journal?.hostIptables ?? [], observed.hostIptables)) add(a.kind === 'hostipt.add' ? { ...a, ...before(a.rule.family) } : a);

  // Processes: (re)start what is not running as declared, stop what the lab no longer has.
  const jp = journal?.processes ?? {};
  const wanted = new Set<string>();
  for (const p of desired.processes) {
    const key = processKey(p);
    wanted.add(key);
    const rec = jp[key];
    const found = observed.processes.get(key);
    if (!rec && found?.start && !fresh.has(p.node)) {
      add({ kind: 'process.adopt', ns: p.node, key, process: p, pid: found.pid, start: found.start, object: `process ${key}`, reason: 'running, but not in the journal: adopted' });
      continue;
    }
    const alive = !!rec && !fresh.has(p.node) && (found?.alive ?? false);
    const same = !!rec && JSON.stringify(rec.argv) === JSON.stringify(p.argv);
    if (alive && same) continue;
    if (alive) add({ kind: 'process.stop', ns: p.node, key, pid: rec!.pid, object: `process ${key}`, reason: 'its command changed', replace: true });
    add({
      kind: 'process.start',
      ns: p.node,
      process: p,
      object: `process ${key}`,
      reason: !rec ? 'not running' : alive ? 'its command changed' : 'it exited: restart',
      ...(alive ? { replace: true } : {}),
    });
  }
  for (const [key, rec] of Object.entries(jp)) {
    if (!wanted.has(key) && observed.processes.get(key)?.alive) add({ kind: 'process.stop', ns: rec.ns, key, pid: rec.pid, object: `process ${key}`, reason: 'no longer in the lab file' });
  }

  return { lab: desired.lab, actions: order(actions), conflicts, ownership };
}

/** An object in the way that is not the lab's: what it is, and the way out. */
function conflictOf(lab: string, object: string, what: string, name: string, mark: string | undefined, v: Verdict, remove: string, rename: string): Conflict {
  const why = v.ours ? '' : v.why;
  const other = otherLab(lab, mark);
  if (other && !why.startsWith('it was re-created')) return { object, message: `${what} '${name}' belongs to lab '${other}'`, hint: `take that lab down first (netlab down ${other}), or ${rename}` };
  const message =
    why.startsWith('it was re-created') || why.includes('another run')
      ? `${what} '${name}' is not the one lab '${lab}' made: ${why}`
      : `${what} '${name}' already exists and was not made by lab '${lab}' (${why})`;
  return { object, message, hint: `it is not this lab's: remove it (${remove}) if nothing needs it, or ${rename}` };
}

/** Stable order by phase; deletions in reverse dependency order (routes, rules, addresses, links). */
function order(actions: Action[]): Action[] {
  const rank = (a: Action) => {
    const p = PHASES.indexOf(phaseOf(a)) * 100;
    const within = ['route.del', 'rule.del', 'addr.del', 'link.del', 'netns.del', 'hostipt.del'].indexOf(a.kind);
    return p + (within < 0 ? 50 : within);
  };
  return actions
    .map((a, i) => [a, i] as const)
    .sort((x, y) => rank(x[0]) - rank(y[0]) || x[1] - y[1])
    .map(([a]) => a);
}

/** The entries of a sysctl map whose keys match. */
function pick(m: Map<string, string>, re: RegExp): Record<string, string> {
  return Object.fromEntries([...m].filter(([k]) => re.test(k)));
}

/** Recorded side values to write back: those whose key still exists (the interface is still there). */
function restorable(recorded: Record<string, string>, re: RegExp, now: Map<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(recorded).filter(([k]) => re.test(k) && now?.has(k)));
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
