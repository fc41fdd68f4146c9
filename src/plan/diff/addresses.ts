// Addresses on a link: add the missing, delete those the lab file does not have.
import type { LinkState } from '../../model/types.js';
import type { Ctx } from './context.js';

export function diffAddresses(c: Ctx, ns: string, l: LinkState, o: LinkState | undefined, object: string): void {
  const haveAddrs = o?.addresses ?? [];
  for (const cidr of l.addresses) if (!haveAddrs.includes(cidr)) c.add({ kind: 'addr.add', ns, dev: l.name, cidr, object, reason: 'not in the kernel' });
  for (const cidr of haveAddrs) if (!l.addresses.includes(cidr)) c.add({ kind: 'addr.del', ns, dev: l.name, cidr, object, reason: 'not in the lab file' });
}
