// The planner: pure diff of desired against observed and the journal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diff } from '../../src/plan/diff.js';
import { describe as line } from '../../src/plan/actions.js';
import { HOST } from '../../src/model/types.js';
import { applied, emptyObserved, everyRoute, labOf, twoOnBridge } from '../lib/fixtures.js';
import { parseRoutes } from '../../src/observe/parse.js';

const BRIDGE = twoOnBridge('b2');

const plan = (yaml: string, mutate?: (o: ReturnType<typeof applied>) => void, from?: string) => {
  const { desired } = labOf(yaml);
  const base = applied(labOf(from ?? yaml).desired);
  mutate?.(base);
  return diff(desired, base.observed, base.journal);
};

test('a fresh lab: namespaces, bridge, veths, settings, addresses, in phase order', () => {
  const { desired } = labOf(BRIDGE);
  const p = diff(desired, emptyObserved(), undefined);
  assert.deepEqual(p.conflicts, []);
  assert.deepEqual(p.actions.map(line), [
    '+   namespace ns1  (not in the kernel)',
    '+   namespace ns2  (not in the kernel)',
    '+   bridge host:br1  (not in the kernel)',
    '+   veth host:tap1_peer <-> ns1:tap1  (not in the kernel)',
    '+   veth host:tap2_peer <-> ns2:tap2  (not in the kernel)',
    '~   link host:br1 up  (new)',
    '~   link host:tap1_peer master br1 up  (new)',
    '~   link host:tap2_peer master br1 up  (new)',
    '~   link ns1:lo up alias netlab:b2  (new)',
    '~   link ns1:tap1 up alias netlab:b2  (new)',
    '+   address 192.168.20.1/24 on ns1:tap1  (not in the kernel)',
    '~   link ns2:lo up alias netlab:b2  (new)',
    '~   link ns2:tap2 up alias netlab:b2  (new)',
    '+   address 192.168.20.2/24 on ns2:tap2  (not in the kernel)',
  ]);
});

test('applied state: nothing to do', () => {
  assert.deepEqual(plan(BRIDGE).actions.map(line), []);
});

test('an address edit is a delete and an add on that interface only', () => {
  const p = plan(BRIDGE.replace('192.168.20.2/24', '192.168.20.12/24'), undefined, BRIDGE);
  assert.deepEqual(p.actions.map(line), ['-   address 192.168.20.2/24 on ns2:tap2  (not in the lab file)', '+   address 192.168.20.12/24 on ns2:tap2  (not in the kernel)']);
});

test('drift: mtu and state changed by hand are put back', () => {
  const p = plan(BRIDGE, (b) => {
    const l = b.observed.ns.get('ns1')!.links.get('tap1')!;
    l.mtu = 1400;
    l.up = false;
  });
  assert.deepEqual(p.actions.map(line), ['~   link ns1:tap1 up  (was down)']);
  const q = plan(BRIDGE.replace('addresses: {ns1: 192.168.20.1/24}', 'addresses: {ns1: 192.168.20.1/24}\n    mtu: 9000'), undefined, BRIDGE);
  assert.deepEqual(q.actions.map(line), ['~   link host:tap1_peer mtu 9000  (mtu 1500 -> 9000)', '~   link ns1:tap1 mtu 9000  (mtu 1500 -> 9000)']);
});

test('a missing half of a veth pair re-creates the pair', () => {
  const p = plan(BRIDGE, (b) => b.observed.ns.get('ns2')!.links.delete('tap2'));
  const lines = p.actions.map(line);
  assert.equal(lines[0], '-/+ link host:tap2_peer  (its peer ns2:tap2 is missing)');
  assert.equal(lines[1], '-/+ veth host:tap2_peer <-> ns2:tap2  (re-create the pair)');
  assert.ok(lines.includes('+   address 192.168.20.2/24 on ns2:tap2  (not in the kernel)'));
});

test('a node taken out of the file: its namespace goes, its host port is left to the kernel', () => {
  const two = BRIDGE.replace(/ {2}- endpoints: \[ns2[\s\S]*$/, '').replace('  ns2:\n', '');
  const p = plan(two, undefined, BRIDGE);
  assert.deepEqual(p.actions.map(line), ['-   namespace ns2  (no longer in the lab file)']);
});

test('objects in the way: a foreign namespace and a foreign bridge are conflicts', () => {
  const { desired } = labOf(BRIDGE);
  const o = emptyObserved();
  o.netns.add('ns1');
  o.ns.set('ns1', { links: new Map(), routes: [], rules: [], sysctls: new Map(), iptables: new Map(), mark: 'netlab:other' });
  o.ns.get(HOST)!.links.set('br1', { name: 'br1', kind: 'bridge', up: true, addresses: [] });
  const p = diff(desired, o, undefined);
  assert.deepEqual(
    p.conflicts.map((c) => c.message),
    ["namespace 'ns1' belongs to lab 'other'", "host interface 'br1' already exists and was not made by lab 'b2' (unmarked)"],
  );
});

const ROUTED = `
name: r1
nodes:
  a:
    routes:
      - default via 10.0.0.254
      - {to: 10.9.0.0/16, via: 10.0.0.253, table: 100}
      - local default dev lo table 100
    rules:
      - fwmark 0x1/0x1 pref 100 table 100
    sysctls:
      net.ipv4.ip_forward: 1
    iptables:
      filter:
        INPUT: [-s 10.0.0.9 -j DROP]
  b:
links:
  - endpoints: [a:eth0, b:eth0]
    addresses: {a: 10.0.0.1/24, b: 10.0.0.254/24}
`;

// Every route type, as `ip route add` makes it and `ip -j -d route show table all` reads it back
// (captured on kernel 6.18, iproute2 6.1, with the kernel's own routes left out).
const EVERY_ROUTE = everyRoute('rt');
const EVERY_ROUTE_READ =
  '[{"type":"local","dst":"10.14.0.0/24","dev":"lo","table":"100","protocol":"boot","scope":"host","flags":[]},{"type":"throw","dst":"10.16.0.0/16","table":"100","protocol":"boot","scope":"global","flags":[]},{"type":"throw","dst":"10.6.0.0/16","table":"main","protocol":"boot","scope":"global","flags":[]},{"type":"blackhole","dst":"10.8.0.0/16","table":"main","protocol":"boot","scope":"global","flags":[]},{"type":"prohibit","dst":"10.10.0.0/16","table":"main","protocol":"boot","scope":"global","flags":[]},{"type":"unreachable","dst":"10.11.0.0/16","table":"main","protocol":"boot","scope":"global","flags":[]},{"type":"unicast","dst":"10.12.0.0/16","gateway":"10.0.0.254","dev":"eth0","table":"main","protocol":"boot","scope":"global","flags":[]},{"type":"unicast","dst":"10.13.0.0/16","dev":"eth0","table":"main","protocol":"boot","scope":"link","flags":[]},{"type":"local","dst":"10.5.0.1","dev":"lo","table":"local","protocol":"boot","scope":"host","flags":[]},{"type":"throw","dst":"2001:db8:1::/48","dev":"lo","table":"main","protocol":"boot","scope":"global","metric":1024,"flags":[],"pref":"medium"},{"type":"blackhole","dst":"2001:db8:2::/48","dev":"lo","table":"main","protocol":"boot","scope":"global","metric":1024,"flags":[],"pref":"medium"},{"type":"unicast","dst":"2001:db8:3::/48","gateway":"2001:db8::fe","dev":"eth0","table":"main","protocol":"boot","scope":"global","metric":1024,"flags":[],"pref":"medium"},{"type":"unreachable","dst":"2001:db8:4::/48","dev":"lo","table":"main","protocol":"boot","scope":"global","metric":1024,"flags":[],"pref":"medium"},{"type":"prohibit","dst":"2001:db8:5::/48","dev":"lo","table":"main","protocol":"boot","scope":"global","metric":1024,"flags":[],"pref":"medium"},{"type":"local","dst":"2001:db8:9::1","dev":"lo","table":"local","protocol":"boot","scope":"global","metric":1024,"flags":[],"pref":"medium"}]';

test('routes: every type reads back as the file says (a local route without a table is in the local table)', () => {
  const { desired } = labOf(EVERY_ROUTE);
  assert.ok(desired.ns.get('a')!.routes.some((r) => r.type === 'local' && r.to === '10.5.0.1/32' && r.table === 255));
  const p = plan(EVERY_ROUTE, (b) => {
    b.observed.ns.get('a')!.routes = parseRoutes(JSON.parse(EVERY_ROUTE_READ) as unknown[]);
  });
  assert.deepEqual(p.actions.map(line), []);
});

test('routes: a changed gateway is replaced in place; an extra route is deleted', () => {
  const p = plan(
    ROUTED.replace('default via 10.0.0.254', 'default via 10.0.0.253'),
    (b) => {
      b.observed.ns.get('a')!.routes.push({ type: 'unicast', family: 'ipv4', to: '10.99.0.0/16', via: '10.0.0.254', dev: 'eth0', scope: 'global', metric: 0, table: 254 });
    },
    ROUTED,
  );
  assert.deepEqual(p.actions.map(line), ['-   route 10.99.0.0/16 via 10.0.0.254 dev eth0 in a  (not in the lab file)', '~   route default via 10.0.0.253 in a  (changed)']);
});

test('rules, sysctls and iptables: edits and drift', () => {
  const p = plan(ROUTED.replace('pref 100', 'pref 101').replace('ip_forward: 1', 'ip_forward: 0').replace('10.0.0.9', '10.0.0.8'), undefined, ROUTED);
  assert.deepEqual(p.actions.map(line), [
    '-   rule fwmark 0x1/0x1 pref 100 table 100 in a  (not in the lab file)',
    '+   rule fwmark 0x1/0x1 pref 101 table 100 in a  (not in the kernel)',
    '~   sysctl net.ipv4.ip_forward = 0 in a  (is 1)',
    '~   iptables table filter in a (1 rule)  (rules changed in the lab file)',
  ]);
  const drift = plan(ROUTED, (b) => b.observed.ns.get('a')!.iptables.set('ipv4/filter', ':INPUT ACCEPT'));
  assert.deepEqual(drift.actions.map(line), ['~   iptables table filter in a (1 rule)  (changed in the kernel (drift))']);
});

test('a table the lab stops declaring is reset; a sysctl it stops setting is restored', () => {
  const without = ROUTED.replace(/ {4}sysctls:\n.*\n/, '').replace(/ {4}iptables:\n.*\n.*\n/, '');
  const p = plan(without, undefined, ROUTED);
  assert.deepEqual(p.actions.map(line), [
    '~   sysctl net.ipv4.ip_forward = 0 in a  (no longer in the lab file: restore)',
    '~   iptables table filter in a (0 rules)  (no longer in the lab file: reset)',
  ]);
});

test('host sysctls record the previous value once', () => {
  const y = `name: h\nnodes:\n  a:\nhost:\n  sysctls:\n    net.ipv4.ip_forward: 1\n`;
  const { desired } = labOf(y);
  const o = emptyObserved();
  o.netns.add('a');
  o.ns.set('a', { links: new Map(), routes: [], rules: [], sysctls: new Map(), iptables: new Map(), mark: 'netlab:h' });
  o.hostSysctls.set('net/ipv4/ip_forward', '0');
  o.ns.get(HOST)!.sysctls = o.hostSysctls;
  const p = diff(desired, o, undefined);
  const s = p.actions.find((a) => a.kind === 'sysctl.set');
  assert.deepEqual(s && s.kind === 'sysctl.set' ? [s.ns, s.key, s.value, s.previous] : [], [HOST, 'net/ipv4/ip_forward', '1', '0']);
});

test('iptables rules added by hand in a lab namespace that declares none are drift: the table is reset', () => {
  const p = plan(BRIDGE, (o) => {
    o.observed.ns.get('ns1')!.iptables.set('ipv4/filter', ':INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT\n-A INPUT -j DROP');
    o.observed.ns.get('ns2')!.iptables.set('ipv4/filter', ':INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT');
  });
  assert.deepEqual(p.actions.map(line), ['~   iptables table filter in ns1 (0 rules)  (rules added by hand (drift): reset)']);
});
