// Impairments: the root qdisc (netem or tbf) netlab manages on a link.
import type { LinkState } from '../../model/types.js';
import { impairText, qdiscMatches } from '../../model/impair.js';
import type { Ctx } from './context.js';

export function diffImpairment(c: Ctx, ns: string, l: LinkState, o: LinkState | undefined, object: string): void {
  if (l.qdisc && !qdiscMatches(l.qdisc, o?.qdisc))
    c.add({
      kind: 'qdisc.replace',
      ns,
      dev: l.name,
      qdisc: l.qdisc,
      object,
      reason: o?.qdisc ? `is ${o.qdisc.kind} ${impairText(o.qdisc.impair)}` : 'not in the kernel',
      ...(o?.qdisc ? {} : { fresh: true }),
    });
  else if (!l.qdisc && o?.qdisc) c.add({ kind: 'qdisc.del', ns, dev: l.name, object, reason: `not in the lab file (is ${o.qdisc.kind} ${impairText(o.qdisc.impair)})` });
}
