// Broadcast domains (model/domains.ts): which interfaces share one, which address a node's name
// means from where, and where an address may repeat. The errors themselves are fixtures in
// test/fixtures/invalid/address-duplicate*.yaml and check-target-ambiguous.yaml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadLab, loadLabFile } from '../../src/load/lab.js';
import { addressClashes, domains, holderFrom } from '../../src/model/domains.js';
import type { CheckSpec } from '../../src/model/types.js';

const LABS = fileURLToPath(new URL('../../../labs/', import.meta.url));
const TWO_LANS = fileURLToPath(new URL('../../../test/fixtures/labs/two-lans-nat.yaml', import.meta.url));

const pingTo = (checks: CheckSpec[], from: string, label: string) => checks.find((c) => c.kind === 'ping' && c.from === from && c.label === label) as Extract<CheckSpec, { kind: 'ping' }>;

test('a bridge, its ports and everything on them are one domain; a veth pair is one', () => {
  const d = domains(loadLabFile(`${LABS}bridge-4ns.yaml`));
  const br = d.of('', 'br1')!;
  for (let i = 1; i <= 4; i++) assert.equal(d.of(`ns${i}`, `tap${i}`), br);
  assert.equal(d.of('', 'tap1_peer'), br);
  assert.equal(d.label(br), 'bridge br1');
  const pair = domains(loadLabFile(`${LABS}veth-pair.yaml`));
  assert.equal(pair.of('ns0', 'veth0'), pair.of('ns1', 'veth1'));
  assert.equal(pair.label(pair.of('ns0', 'veth0')!), 'link ns0:veth0 - ns1:veth1');
});

test('a VLAN id on a domain is a domain of its own, shared by that id only', () => {
  const d = domains(loadLabFile(`${LABS}vlan-trunk.yaml`));
  const v10 = d.of('vl-h1', 'eth0.10')!;
  assert.equal(d.of('vl-h2', 'eth0.10'), v10);
  assert.equal(d.of('vl-h2', 'eth0.20'), d.of('vl-h3', 'eth0.20'));
  assert.notEqual(d.of('vl-h2', 'eth0.20'), v10);
  assert.notEqual(d.of('vl-h1', 'eth0'), v10);
  assert.equal(d.label(v10), 'VLAN 10 on bridge vl-trunk');
});

test('stacked VLANs in two namespaces share a domain whatever the order they are read in', () => {
  const lab = loadLab(
    `name: qinq
nodes:
  a:
    interfaces:
      outer: {type: vlan, link: eth0, id: 100, protocol: 802.1ad}
      inner: {type: vlan, link: outer, id: 10, addresses: [10.0.0.1/24]}
  b:
    interfaces:
      outer: {type: vlan, link: eth0, id: 100, protocol: 802.1ad}
      inner: {type: vlan, link: outer, id: 10, addresses: [10.0.0.2/24]}
      other: {type: vlan, link: outer, id: 11, addresses: [10.0.0.1/24]}
links:
  - endpoints: [a:eth0, b:eth0]
`,
    'qinq.yaml',
  );
  const d = domains(lab);
  assert.equal(d.of('a', 'inner'), d.of('b', 'inner'));
  assert.notEqual(d.of('b', 'other'), d.of('a', 'inner'));
  assert.deepEqual(addressClashes(d), [], '10.0.0.1 on VLAN 11 is another domain than on VLAN 10');
});

test('a bond and its members are one domain with the peers of the members', () => {
  const d = domains(loadLabFile(`${LABS}bond-veth.yaml`));
  const bond = d.sites.find((s) => s.kind === 'bond')!;
  const members = loadLabFile(`${LABS}bond-veth.yaml`)
    .nodes.get(bond.ns)!
    .interfaces.find((i) => i.name === bond.iface)!.members;
  for (const m of members) assert.equal(d.of(bond.ns, m), bond.domain);
});

test('VRFs: an address in its VRF; the same address in two VRFs of a node is no clash', () => {
  const lab = loadLab(
    `name: vrfs
nodes:
  pe:
    interfaces:
      red: {type: vrf, table: 10, members: [a]}
      blue: {type: vrf, table: 20, members: [b]}
  c1:
  c2:
links:
  - endpoints: [pe:a, c1:eth0]
    addresses: {pe: 10.0.0.1/24, c1: 10.0.0.2/24}
  - endpoints: [pe:b, c2:eth0]
    addresses: {pe: 10.0.0.1/24, c2: 10.0.0.2/24}
`,
    'vrfs.yaml',
  );
  const d = domains(lab);
  assert.deepEqual(
    d.sites.filter((s) => s.ns === 'pe').map((s) => [s.iface, s.vrf]),
    [
      ['a', 'red'],
      ['b', 'blue'],
    ],
  );
  assert.deepEqual(addressClashes(d), []);
});

test('the CNI ptp layout: one /32 gateway on every host-side veth is valid; a /24 twice is not', () => {
  const lab = loadLabFile(`${LABS}cni-routed.yaml`);
  const d = domains(lab);
  assert.deepEqual(
    d.sites.filter((s) => s.addr === '10.244.1.1').map((s) => `${s.ns}:${s.iface}`),
    ['node1:veth-pod1', 'node1:veth-pod2'],
  );
  assert.deepEqual(addressClashes(d), []);
  // node1 in a reach matrix is its gateway address, from either pod.
  assert.equal(pingTo(lab.checks, 'pod1', 'ping pod1 -> node1').to, '10.244.1.1');
  assert.equal(pingTo(lab.checks, 'pod2', 'ping pod2 -> node1').to, '10.244.1.1');
  const wide = domains({
    ...lab,
    links: lab.links.map((l) => ({ ...l, ends: l.ends.map((e) => ({ ...e, addresses: e.addresses.map((a) => ({ ...a, cidr: a.cidr.replace('/32', '/24') })) })) as typeof l.ends })),
  });
  const clashes = addressClashes(wide);
  assert.deepEqual(
    clashes.map((c) => [c.where, c.site.iface, c.first.iface]),
    [['namespace', 'veth-pod2', 'veth-pod1']],
  );
});

test('two identical LANs: a name means the holder on the checker’s own LAN; ambiguous elsewhere', () => {
  const lab = loadLabFile(TWO_LANS);
  const d = domains(lab);
  assert.deepEqual(addressClashes(d), []);
  assert.equal(holderFrom(d, 'tl-a2', '192.168.1.10'), 'tl-a1');
  assert.equal(holderFrom(d, 'tl-b2', '192.168.1.10'), 'tl-b1');
  assert.equal(holderFrom(d, 'tl-b1', '192.168.1.10'), 'tl-b1', 'an address of its own');
  assert.equal(holderFrom(d, 'tl-r1', '192.168.1.10'), 'tl-a1', 'the router is on LAN 1');
  assert.equal(holderFrom(d, 'tl-srv', '192.168.1.10'), undefined, 'from the WAN it is either');
  assert.equal(holderFrom(d, 'tl-srv', '203.0.113.1'), 'tl-r1');
  assert.equal(holderFrom(d, 'tl-srv', '198.51.100.1'), undefined, 'nobody holds it');
  // The checks: a2 -> a1 is a1's LAN address; a1 -> r1 is r1's first address (its WAN one, unique).
  assert.equal(pingTo(lab.checks, 'tl-a2', 'ping tl-a2 -> tl-a1').to, '192.168.1.10');
  assert.equal(pingTo(lab.checks, 'tl-a1', 'ping tl-a1 -> tl-r1').to, '203.0.113.1');
  assert.equal(pingTo(lab.checks, 'tl-b1', 'ping tl-b1 -> tl-srv').to, '203.0.113.100');
});
