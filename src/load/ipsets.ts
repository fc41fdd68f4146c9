// The ipsets section of a node: set names, types, families and members, each member checked for
// its set's type and kept in the form `ipset save` prints it (so that the kernel's copy compares).
import type { Family, IpsetSpec, SrcPath } from '../model/types.js';
import { canonicalMember } from '../model/ipset.js';
import type { LabContext } from './context.js';
import type { RawIpsets } from './raw.generated.js';

export function normalizeIpsets(ctx: LabContext, raw: RawIpsets, path: SrcPath): IpsetSpec[] {
  const out: IpsetSpec[] = [];
  for (const [name, r] of Object.entries(raw)) {
    const p = [...path, name];
    const members: IpsetSpec['members'] = [];
    let family: Family | undefined = r.family;
    const seen = new Map<string, number>();
    (r.members ?? []).forEach((text, i) => {
      const mp = [...p, 'members', i];
      const m = canonicalMember(r.type, text);
      if ('error' in m) return ctx.err(mp, `ipset ${name} (${r.type}): ${m.error}`, m.hint);
      family ??= m.family;
      if (m.family !== family)
        return ctx.err(
          mp,
          `'${text}' is an ${m.family === 'ipv4' ? 'IPv4' : 'IPv6'} member of an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} set`,
          `a set holds one family: declare another set${r.family ? '' : ', or set family: explicitly'}`,
        );
      const dup = seen.get(m.value);
      if (dup !== undefined) return ctx.err(mp, `ipset ${name} lists ${m.value} twice`, `first as member ${dup + 1}`);
      seen.set(m.value, i);
      members.push({ value: m.value, path: mp });
    });
    out.push({ name, type: r.type, family: family ?? 'ipv4', members, path: p });
  }
  return out;
}
