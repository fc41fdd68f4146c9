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

type Geneve = LinkState & { vni?: number };
const geneve: LinkKind = {
  phase: 'configure',
  add: (l) => `link add name ${l.name} type geneve id ${(l as Geneve).vni} dstport 4789`,
  params: (l) => ` id ${(l as Geneve).vni}`,
  changed: (w, h) => ((w as Geneve).vni !== (h as Geneve).vni ? `was geneve ${(h as Geneve).vni}` : undefined),
  fromKernel: (data) => (data.id !== undefined ? ({ vni: data.id } as Partial<LinkState>) : {}),
};

test('a kind added to the table alone is read, planned, re-created, printed and rendered', (t) => {
  const kinds = LINK_KINDS as Record<string, LinkKind>;
  kinds.geneve = geneve;
  t.after(() => delete kinds.geneve);

  const [read] = parseLinks([{ ifname: 'vx0', flags: ['UP'], linkinfo: { info_kind: 'geneve', info_data: { id: 42 } }, addr_info: [] }]).values();
  assert.equal(read!.kind, 'geneve');
  assert.equal((read as Geneve).vni, 42);

  const { desired } = labOf('name: lk\nnodes:\n  a:\n');
  const want: Geneve = { name: 'vx0', kind: 'geneve' as LinkState['kind'], vni: 42, up: true, addresses: ['10.9.0.1/24'], alias: 'netlab:lk' };
  desired.ns.get('a')!.links.set('vx0', want);

  const { observed, journal } = applied(labOf('name: lk\nnodes:\n  a:\n').desired);
  const fresh = diff(desired, observed, journal).actions;
  const add = fresh.find((a) => a.kind === 'link.add')!;
  assert.equal(phaseOf(add), 'configure');
  assert.match(describe(add), /^\+ {3}geneve a:vx0 id 42 {2}\(not in the kernel\)$/);
  assert.match(scriptOf(render(fresh, 'lk')), /link add name vx0 type geneve id 42 dstport 4789\n/);

  observed.ns.get('a')!.links.set('vx0', { ...read!, alias: 'netlab:lk', addresses: ['10.9.0.1/24'], vni: 7 } as Geneve);
  const changed = diff(desired, observed, journal).actions.map(describe);
  assert.ok(changed.includes('-/+ link a:vx0  (was geneve 7)'), changed.join('\n'));
  assert.ok(changed.includes('-/+ geneve a:vx0 id 42  (re-create with the new settings)'), changed.join('\n'));
});

test('every node interface type and the veth and bridge have an entry; kinds netlab does not make have none', () => {
  const types: (IfaceType | 'veth' | 'bridge')[] = ['veth', 'bridge', 'vlan', 'vrf', 'bond', 'dummy', 'vxlan'];
  assert.deepEqual(Object.keys(LINK_KINDS).sort(), [...types].sort());
  for (const k of ['loopback', 'other', 'toString', 'constructor']) assert.equal(linkKind(k), undefined, k);
  assert.deepEqual(
    types.filter((k) => LINK_KINDS[k].phase === 'links'),
    ['veth', 'bridge', 'vxlan'],
  );
});

test('vxlan: made from the host namespace straight into its node, read back from the kernel, re-created when the tunnel changes', () => {
  const k = LINK_KINDS.vxlan;
  const l: LinkState = { name: 'flannel.1', kind: 'vxlan', up: true, addresses: [], vxlan: { id: 4242, remote: '192.168.56.12', local: '192.168.56.11', port: 4789 } };
  assert.equal(k.fromRoot, true);
  assert.equal(k.add(l, 'k8s-node1'), 'link add name flannel.1 netns k8s-node1 type vxlan id 4242 remote 192.168.56.12 local 192.168.56.11 dstport 4789');
  const [read] = parseLinks([
    { ifname: 'flannel.1', flags: ['UP'], mtu: 1450, linkinfo: { info_kind: 'vxlan', info_data: { id: 4242, remote: '192.168.56.12', local: '192.168.56.11', port: 4789 } }, addr_info: [] },
  ]).values();
  assert.deepEqual(read!.vxlan, l.vxlan);
  assert.equal(k.changed!(l, read!), undefined);
  assert.match(k.changed!(l, { ...read!, vxlan: { ...l.vxlan!, remote: '192.168.56.13' } })!, /was VNI 4242 from 192\.168\.56\.11 to 192\.168\.56\.13/);
});
