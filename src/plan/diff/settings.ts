// A link's own settings (mark, addrgenmode, mtu, mac, master, up): one `link set` with what differs.
import { HOST, type LinkState, type NsState } from '../../model/types.js';
import type { LinkSet } from '../actions.js';
import type { Ctx } from './context.js';

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

/** `o`: the link as the kernel has it, undefined when this plan (re-)creates it. */
export function diffLinkSettings(c: Ctx, ns: string, want: NsState, l: LinkState, o: LinkState | undefined, object: string): void {
  const { set, why } = linkSet(l, o);
  // A host link made by this plan carries the mark from the batch that creates it (render.ts).
  if (ns === HOST && c.created.has(`${ns}/${l.name}`)) delete set.alias;
  if (set.master && want.links.get(set.master)?.kind === 'bond') set.downFirst = true;
  if (Object.keys(set).length) c.add({ kind: 'link.set', ns, name: l.name, set, object, reason: o ? why.join(', ') || "mark it as the lab's" : 'new' });
}
