// The link-kind table (src/model/linkkinds.ts) is the one place a kind is defined: an entry added
// to it is read from the kernel, planned, re-created when its settings differ, printed and rendered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LINK_KINDS, linkKind, type LinkKind } from '../../src/model/linkkinds.js';
import type { IfaceType, LinkState } from '../../src/model/types.js';
import { parseLinks } from '../../src/observe/parse.js';
import { diff } from '../../src/plan/diff.js';
import { describe, phaseOf } from '../../src/plan/actions.js';
import { render, scriptOf } from '../../src/render/render.js';
import { applied, labOf } from '../lib/fixtures.js';

type Vxlan = LinkState & { vni?: number };
const vxlan: LinkKind = {
  phase: 'configure',
  add: (l) => `link add name ${l.name} type vxlan id ${(l as Vxlan).vni} dstport 4789`,
  params: (l) => ` id ${(l as Vxlan).vni}`,
  changed: (w, h) => ((w as Vxlan).vni !== (h as Vxlan).vni ? `was vxlan ${(h as Vxlan).vni}` : undefined),
  fromKernel: (data) => (data.id !== undefined ? ({ vni: data.id } as Partial<LinkState>) : {}),
};

test('a kind added to the table alone is read, planned, re-created, printed and rendered', (t) => {
  const kinds = LINK_KINDS as Record<string, LinkKind>;
  kinds.vxlan = vxlan;
  t.after(() => delete kinds.vxlan);

  const [read] = parseLinks([{ ifname: 'vx0', flags: ['UP'], linkinfo: { info_kind: 'vxlan', info_data: { id: 42 } }, addr_info: [] }]).values();
  assert.equal(read!.kind, 'vxlan');
  assert.equal((read as Vxlan).vni, 42);

  const { desired } = labOf('name: lk\nnodes:\n  a:\n');
  const want: Vxlan = { name: 'vx0', kind: 'vxlan' as LinkState['kind'], vni: 42, up: true, addresses: ['10.9.0.1/24'], alias: 'netlab:lk' };
  desired.ns.get('a')!.links.set('vx0', want);

  const { observed, journal } = applied(labOf('name: lk\nnodes:\n  a:\n').desired);
  const fresh = diff(desired, observed, journal).actions;
  const add = fresh.find((a) => a.kind === 'link.add')!;
  assert.equal(phaseOf(add), 'configure');
  assert.match(describe(add), /^\+ {3}vxlan a:vx0 id 42 {2}\(not in the kernel\)$/);
  assert.match(scriptOf(render(fresh, 'lk')), /link add name vx0 type vxlan id 42 dstport 4789\n/);

  observed.ns.get('a')!.links.set('vx0', { ...read!, alias: 'netlab:lk', addresses: ['10.9.0.1/24'], vni: 7 } as Vxlan);
  const changed = diff(desired, observed, journal).actions.map(describe);
  assert.ok(changed.includes('-/+ link a:vx0  (was vxlan 7)'), changed.join('\n'));
  assert.ok(changed.includes('-/+ vxlan a:vx0 id 42  (re-create with the new settings)'), changed.join('\n'));
});

test('every node interface type and the veth and bridge have an entry; kinds netlab does not make have none', () => {
  const types: (IfaceType | 'veth' | 'bridge')[] = ['veth', 'bridge', 'vlan', 'vrf', 'bond', 'dummy'];
  assert.deepEqual(Object.keys(LINK_KINDS).sort(), [...types].sort());
  for (const k of ['loopback', 'other', 'toString', 'constructor']) assert.equal(linkKind(k), undefined, k);
  assert.deepEqual(
    types.filter((k) => LINK_KINDS[k].phase === 'links'),
    ['veth', 'bridge'],
  );
});
