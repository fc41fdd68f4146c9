// Links: create the missing, re-create those of another kind or with other kind-specific settings
// (a veth pair whole), delete the ones the lab no longer declares.
import { HOST, nsLabel, type LinkState } from '../../model/types.js';
import { linkKind } from '../../model/linkkinds.js';
import { conflictOf, linkObject, obsNs, owned, type Ctx } from './context.js';

/** Why a link must be re-created (its kind-specific settings differ), or undefined. */
function paramsChanged(want: LinkState, have: LinkState): string | undefined {
  return linkKind(want.kind)?.changed?.(want, have);
}

function delLink(c: Ctx, ns: string, name: string, object: string, reason: string, replace = false): void {
  const key = `${ns}/${name}`;
  if (c.deleted.has(key)) return;
  c.deleted.add(key);
  c.add({ kind: 'link.del', ns, name, object, reason, ...(replace ? { replace } : {}) });
}

/** A veth pair: whole, or re-created both ends at once (from either end, once). */
function diffVeth(c: Ctx, ns: string, l: LinkState, o: LinkState | undefined, object: string): void {
  const peer = l.peer!;
  const po = obsNs(c, peer.ns).links.get(peer.name);
  const recorded = c.journal?.peers[ns]?.[l.name];
  const rewired = recorded !== undefined && recorded !== `${peer.ns}/${peer.name}`;
  const pairKey = [`${ns}/${l.name}`, `${peer.ns}/${peer.name}`].sort().join(' ');
  if (c.created.has(pairKey)) return;
  const whole = o?.kind === 'veth' && po?.kind === 'veth' && !rewired;
  if (whole) return;
  if (o) delLink(c, ns, l.name, object, rewired ? `re-wired: was connected to ${recorded}` : `its peer ${nsLabel(peer.ns)}:${peer.name} is missing`, true);
  if (po) delLink(c, peer.ns, peer.name, object, `its peer ${nsLabel(ns)}:${l.name} is missing`, true);
  c.created.add(pairKey);
  c.created.add(`${ns}/${l.name}`);
  c.created.add(`${peer.ns}/${peer.name}`);
  c.add({ kind: 'link.add', ns, link: l, object, reason: o || po ? 're-create the pair' : 'not in the kernel', ...(o || po ? { replace: true } : {}) });
}

/** Any other link (bridge, VLAN, VRF, bond, dummy): re-created when its kind-specific settings differ. */
function diffSingle(c: Ctx, ns: string, l: LinkState, o: LinkState | undefined, object: string): void {
  if (o && o.kind === l.kind && !paramsChanged(l, o)) return;
  const changed = o && o.kind === l.kind ? paramsChanged(l, o) : undefined;
  if (changed) delLink(c, ns, l.name, object, changed, true);
  c.created.add(`${ns}/${l.name}`);
  c.add({ kind: 'link.add', ns, link: l, object, reason: changed ? 're-create with the new settings' : o ? 're-create' : 'not in the kernel', ...(o ? { replace: true } : {}) });
}

export function diffLinks(c: Ctx): void {
  const { desired, observed, journal } = c;
  for (const [ns, want] of desired.ns) {
    const have = obsNs(c, ns);
    for (const l of want.links.values()) {
      if (l.kind === 'loopback') continue;
      const o = have.links.get(l.name);
      const object = linkObject(ns, l);
      if (o && ns === HOST) {
        const v = c.linkVerdict(l.name, o);
        if (!v.ours) {
          c.foreignHost.add(l.name);
          c.conflicts.push(conflictOf(desired.lab, object, 'host interface', l.name, o.alias, v, `ip link del ${l.name}`, 'rename it in the lab'));
          continue;
        }
      }
      if (o && o.kind !== l.kind) delLink(c, ns, l.name, object, `is a ${o.kind}, the lab wants a ${l.kind}`, true);
      if (l.kind === 'veth') diffVeth(c, ns, l, o, object);
      else diffSingle(c, ns, l, o, object);
    }
    // Links the lab no longer declares.
    if (owned(ns)) {
      for (const o of have.links.values()) {
        if (o.kind === 'loopback' || want.links.has(o.name)) continue;
        const recordedPeer = journal?.peers[ns]?.[o.name];
        if (recordedPeer && c.deleted.has(recordedPeer)) continue;
        delLink(c, ns, o.name, `${nsLabel(ns)}:${o.name}`, 'not in the lab file');
      }
    }
  }
  // Host links the journal names that the lab no longer declares.
  for (const name of new Set(journal?.hostLinks ?? [])) {
    const o = observed.ns.get(HOST)?.links.get(name);
    if (!o || desired.ns.get(HOST)!.links.has(name) || !c.linkVerdict(name, o).ours) continue;
    const recordedPeer = journal?.peers[HOST]?.[name];
    if (recordedPeer && (c.deleted.has(recordedPeer) || c.removedNs.includes(recordedPeer.split('/')[0]!))) continue;
    delLink(c, HOST, name, `host:${name}`, 'no longer in the lab file');
  }
}
