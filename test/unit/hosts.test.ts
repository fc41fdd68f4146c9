// Labs across hosts, the pure parts: the hosts section and its errors, an Ansible inventory as
// hosts, the split into one ordinary lab per host (VXLAN in place of the veth ends between hosts),
// and the argv of each transport.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadInventory } from '../../src/load/inventory.js';
import { loadLab } from '../../src/load/lab.js';
import { LabError, formatProblem } from '../../src/load/problems.js';
import type { RawLab } from '../../src/load/raw.js';
import { crossLinks, splitLab } from '../../src/load/split.js';
import type { LabHost } from '../../src/model/types.js';
import { transportOf } from '../../src/runner/transport.js';
import { ROOT } from '../lib/host.js';

const K8S = join(ROOT, 'labs', 'k8s-cross-node.yaml');

function problems(text: string, inventory?: Map<string, LabHost>): string[] {
  try {
    loadLab(text, 'lab.yaml', inventory);
  } catch (e) {
    if (e instanceof LabError) return e.problems.map(formatProblem);
    throw e;
  }
  return [];
}

const TWO = `name: two
hosts:
  h1: {address: 10.0.0.1, local: true}
  h2: {address: 10.0.0.2, ssh: root@h2}
nodes:
  a: {host: h1}
  b: {host: h2}
links:
  - endpoints: [a:eth0, b:eth0]
    addresses: {a: 10.1.0.1/24, b: 10.1.0.2/24}
checks:
  - ping: {from: a, to: b}
  - ping: {from: b, to: a:eth0}
`;

test('split: each host gets its nodes, the links among them and a VXLAN interface per link to another host', () => {
  const text = readFileSync(K8S, 'utf8');
  const lab = loadLab(text, K8S);
  const parts = splitLab(lab, parse(text) as RawLab);
  assert.deepEqual(
    parts.map((p) => p.host),
    ['node1', 'node2'],
  );
  const [p1, p2] = parts.map((p) => loadLab(p.text, `${p.host}.yaml`)); // each part is an ordinary lab
  assert.deepEqual([...p1!.nodes.keys()].sort(), ['k8s-node1', 'pod-a', 'pod-b']);
  assert.deepEqual([...p2!.nodes.keys()].sort(), ['k8s-node2', 'pod-c', 'pod-d']);
  assert.equal(p1!.hosts, undefined);
  assert.equal(p1!.links.length, 2);
  assert.deepEqual([...p1!.bridges.keys()], ['cni1']);
  const v1 = p1!.nodes.get('k8s-node1')!.interfaces.find((i) => i.name === 'flannel.1')!;
  const v2 = p2!.nodes.get('k8s-node2')!.interfaces.find((i) => i.name === 'flannel.1')!;
  assert.equal(v1.type, 'vxlan');
  assert.deepEqual(v1.vxlan, { id: v2.vxlan!.id, remote: '192.168.56.12', local: '192.168.56.11', port: 4789 });
  assert.deepEqual(v2.vxlan, { id: v1.vxlan!.id, remote: '192.168.56.11', local: '192.168.56.12', port: 4789 });
  assert.equal(v1.mtu, 1450);
  assert.deepEqual(
    v1.addresses.map((a) => a.cidr),
    ['10.244.255.1/24'],
  );
  // The route through the tunnel still refers to an interface of the node.
  assert.equal(p1!.nodes.get('k8s-node1')!.routes[0]!.dev, 'flannel.1');
  // Checks go to the host of the node they are sent from, their targets as addresses.
  assert.ok(p1!.checks.every((c) => ['pod-a', 'pod-b', 'k8s-node1'].includes(c.from)));
  assert.ok(p2!.checks.some((c) => c.kind === 'ping' && c.from === 'pod-c' && c.to === '10.244.1.2'));
  assert.equal(p1!.checks.length + p2!.checks.length, lab.checks.length);
});

test('split: a VNI depends on its link alone (editing other links keeps it); underlay MTUs set the tunnel MTU', () => {
  const lab = loadLab(TWO, 'two.yaml');
  const more = loadLab(TWO.replace('links:\n', 'links:\n  - endpoints: [a:x0, b:x0]\n'), 'two.yaml');
  assert.equal(crossLinks(lab)[0]!.vni, crossLinks(more)[1]!.vni);
  const jumbo = loadLab(TWO.replace('local: true}', 'local: true, mtu: 9000}').replace('ssh: root@h2}', 'ssh: root@h2, mtu: 9000}'), 'two.yaml');
  const [part] = splitLab(jumbo, parse(TWO) as RawLab);
  assert.match(part!.text, /mtu: 8950/);
});

test('hosts: the errors name the field, with a hint', () => {
  const p = (t: string) => problems(t).join('\n');
  assert.match(p(TWO.replace('  b: {host: h2}', '  b: {host: h3}')), /lab\.yaml:7:13: error: nodes\.b\.host: no host 'h3'\n {2}hint: did you mean 'h[12]'\?/);
  assert.match(p(TWO.replace('  b: {host: h2}', '  b: {}')), /nodes\.b: node 'b' needs 'host': the lab spans hosts/);
  assert.match(p(TWO.replace('address: 10.0.0.2, ssh: root@h2', 'address: 10.0.0.2, local: true')), /hosts 'h1' and 'h2' are both local/);
  assert.match(p(TWO.replace('address: 10.0.0.2, ssh: root@h2', 'address: h2.example, ssh: root@h2')), /hosts\.h2\.address: 'h2\.example' is not an IPv4 address/);
  assert.match(p(TWO.replace('address: 10.0.0.2, ssh: root@h2', 'address: 10.0.0.2')), /host 'h2' needs a way to reach it\n {2}hint: ssh: \[USER@\]HOST\[:PORT\], local: true/);
  assert.match(p(`${TWO}bridges:\n  br0: {}\n`), /bridges\.br0: bridge 'br0' is in the host namespace/);
  assert.match(p(`${TWO}host: {uplink: true}\n`), /host: a lab across hosts cannot change the host namespace \('host' section\)/);
  assert.match(p(TWO.replace('addresses: {a: 10.1.0.1/24', 'mtu: 1500\n    addresses: {a: 10.1.0.1/24')), /mtu 1500 on 'a:eth0' does not fit the tunnel between 'h1' and 'h2'\n {2}hint: at most 1450/);
  assert.match(p(TWO.replace('hosts:\n  h1: {address: 10.0.0.1, local: true}\n  h2: {address: 10.0.0.2, ssh: root@h2}\n', '')), /node 'a' names host 'h1' but the lab has no hosts/);
  assert.match(
    p(TWO.replace('  a: {host: h1}', '  a:\n    host: h1\n    interfaces: {v0: {type: vxlan, id: 0, remote: x, local: 10.0.0.1}}')),
    /VNI 0 is out of range[\s\S]*'x' is not an IPv4 address/,
  );
});

test('inventory: an Ansible YAML inventory gives the hosts (groups, their vars, netlab_address, ansible_connection: local)', () => {
  const inv = loadInventory(
    `all:
  vars: {ansible_user: vagrant, ansible_become: true}
  hosts:
    node1: {ansible_host: 192.168.56.11, ansible_connection: local}
  children:
    workers:
      vars: {netlab_mtu: 9000}
      hosts:
        node2: {ansible_host: 192.168.56.12, ansible_port: 2222}
        node3: {ansible_host: node3.example, netlab_address: 192.168.56.13}
`,
    'inventory.yaml',
  );
  assert.deepEqual(
    [...inv.values()].map(({ path: _p, ...h }) => h),
    [
      { name: 'node1', address: '192.168.56.11', mtu: 1500, reach: { local: true }, sudo: true },
      { name: 'node2', address: '192.168.56.12', mtu: 9000, reach: { ssh: 'vagrant@192.168.56.12:2222' }, sudo: true },
      { name: 'node3', address: '192.168.56.13', mtu: 9000, reach: { ssh: 'vagrant@node3.example' }, sudo: true },
    ],
  );
  // The lab file's hosts go over the inventory's, and nodes may name inventory hosts.
  const lab = loadLab(TWO.replace('hosts:\n  h1: {address: 10.0.0.1, local: true}\n', 'hosts:\n'), 'two.yaml', new Map([['h1', { ...inv.get('node1')!, name: 'h1' }]]));
  assert.deepEqual([...lab.hosts!.keys()], ['h1', 'h2']);
  assert.throws(
    () => loadInventory('all:\n  hosts:\n    n1: {ansible_host: n1.example}\n', 'inv.yaml'),
    (e: LabError) =>
      /inv\.yaml:3:\d+: error: all\.hosts\.n1\.ansible_host: host 'n1': 'n1\.example' is not an IPv4 address\n {2}hint: set netlab_address/.test(e.message + formatProblem(e.problems[0]!)),
  );
  assert.throws(() => loadInventory('hosts: {}\n', 'inv.yaml'), /an Ansible YAML inventory starts with all:/);
});

test('transports: ssh shares one connection per host and quotes the command for the remote shell; exec prefixes; sudo', () => {
  const h = (reach: LabHost['reach'], sudo = false): LabHost => ({ name: 'h', address: '10.0.0.2', mtu: 1500, reach, ...(sudo ? { sudo } : {}), path: [] });
  const ssh = transportOf(h({ ssh: 'vagrant@node2:2222' }, true), {}).argv(['sh', '-c', 'echo "$1"', 'sh', "it's"]);
  assert.equal(ssh[0], 'ssh');
  assert.ok(ssh.includes('ControlMaster=auto') && ssh.includes('ControlPersist=60') && ssh.includes('BatchMode=yes'));
  assert.deepEqual(ssh.slice(-4), ['2222', 'vagrant@node2', '--', `sudo -n -- sh -c 'echo "$1"' sh 'it'\\''s'`]);
  assert.deepEqual(
    transportOf(h({ ssh: 'n2' }), { NETLAB_SSH_COMMAND: 'ssh -F /tmp/cfg' })
      .argv(['true'])
      .slice(0, 3),
    ['ssh', '-F', '/tmp/cfg'],
  );
  assert.deepEqual(transportOf(h({ exec: ['docker', 'exec', '-i', 'n2'] }), {}).argv(['true']), ['docker', 'exec', '-i', 'n2', 'true']);
  assert.deepEqual(transportOf(h({ local: true }), {}).argv(['true']), ['true']);
  // An interactive shell on the host: a terminal there (ssh -t), asked for only when wanted.
  assert.deepEqual(
    transportOf(h({ ssh: 'n2' }), {})
      .argv(['sh'], { tty: true })
      .slice(-4),
    ['-t', 'n2', '--', 'sh'],
  );
  assert.ok(
    !transportOf(h({ ssh: 'n2' }), {})
      .argv(['sh'])
      .includes('-t'),
  );
});
