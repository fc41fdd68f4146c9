// VLAN, dummy, VRF and bond interfaces and link impairments: units, plans, commands, read-back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { diff } from '../../src/plan/diff.js';
import { describe as line } from '../../src/plan/actions.js';
import { render, scriptOf } from '../../src/render/render.js';
import { formatDuration, formatRate, parseDuration, parsePercent, parseQdiscs, parseRate, qdiscArgs, qdiscMatches, qdiscOf } from '../../src/model/impair.js';
import { labFeatures } from '../../src/model/features.js';
import { parseLinks, parseRules } from '../../src/observe/parse.js';
import { applied, emptyObserved, labOf } from '../lib/fixtures.js';
import { impairmentOf } from '../../src/cli/impair.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

const WAN = `
name: wan
nodes:
  a:
  b:
links:
  - endpoints: [a:wan0, b:wan0]
    addresses: {a: 10.9.0.1/30, b: 10.9.0.2/30}
    impair:
      a: {delay: 100ms, jitter: 5ms, loss: 0.5%}
      b: {rate: 10mbit}
`;

const VRF = `
name: v
nodes:
  pe:
    interfaces:
      red: {type: vrf, table: 10, members: [to-red, lo-red]}
      lo-red: {type: dummy, addresses: [10.255.1.1/32]}
      bond0: {type: bond, members: [e1, e2], addresses: [10.4.0.1/24]}
      bond0.7: {type: vlan, link: bond0, id: 7, addresses: [10.7.0.1/24]}
      bond0.7.8: {type: vlan, link: bond0.7, id: 8, protocol: 802.1ad}
    routes: ['10.1.99.0/24 via 10.1.0.2 table 10']
  c:
links:
  - endpoints: [pe:to-red, c:eth0]
    addresses: {pe: 10.1.0.1/24, c: 10.1.0.2/24}
  - endpoints: [pe:e1, c:e1]
  - endpoints: [pe:e2, c:e2]
`;

test('impairment units: the lab writes them as tc does, netlab keeps microseconds, percent and bits', () => {
  assert.equal(parseDuration('100ms'), 100_000);
  assert.equal(parseDuration('1.5ms'), 1500);
  assert.equal(parseDuration('250us'), 250);
  assert.equal(parseDuration('2s'), 2_000_000);
  assert.equal(parseDuration('100'), undefined);
  assert.equal(parseRate('10mbit'), 10_000_000);
  assert.equal(parseRate('512kbit'), 512_000);
  assert.equal(parseRate('1mbps'), 8_000_000);
  assert.equal(parseRate('10 mbit'), undefined);
  assert.equal(parsePercent('0.5%'), 0.5);
  assert.equal(parsePercent(3), 3);
  assert.equal(parsePercent('3'), undefined);
  assert.equal(formatDuration(100_000), '100ms');
  assert.equal(formatDuration(1500), '1.5ms');
  assert.equal(formatDuration(250), '250us');
  assert.equal(formatRate(10_000_000), '10mbit');
  assert.equal(formatRate(1_500_000), '1.5mbit');
  assert.equal(formatRate(999), '999bit');
});

test('delay, jitter or loss make a netem; a rate alone makes a tbf with a bucket that fits the rate', () => {
  assert.deepEqual(qdiscArgs(qdiscOf({ delay: 100_000, jitter: 5000, loss: 0.5, limit: 2000 })!), ['netem', 'limit', '2000', 'delay', '100ms', '5ms', 'loss', '0.5%']);
  assert.deepEqual(qdiscArgs(qdiscOf({ loss: 1, rate: 1_000_000 })!), ['netem', 'loss', '1%', 'rate', '1mbit']);
  assert.deepEqual(qdiscArgs(qdiscOf({ rate: 10_000_000 })!), ['tbf', 'rate', '10mbit', 'burst', '15140', 'latency', '50ms']);
  assert.deepEqual(qdiscArgs(qdiscOf({ rate: 1_000_000_000, limit: 100 })!), ['tbf', 'rate', '1gbit', 'burst', '1250000', 'limit', '151400']);
  assert.equal(qdiscOf({}), undefined);
});

test('read-back: tc -j output of tbf (captured here) and netem (its documented shape) compare with the kernel rounding', () => {
  const tbf = parseQdiscs(JSON.parse(readFileSync(`${FIX}tc/tbf.json`, 'utf8')) as unknown[]);
  assert.deepEqual(tbf.get('va'), { kind: 'tbf', impair: { rate: 10_000_000 } });
  assert.equal(tbf.has('vb'), false, 'the default noqueue is not an impairment');
  assert.ok(qdiscMatches(qdiscOf({ rate: 10_000_000 }), tbf.get('va')));
  assert.ok(!qdiscMatches(qdiscOf({ rate: 20_000_000 }), tbf.get('va')));
  const netem = parseQdiscs([
    { kind: 'netem', handle: '8001:', dev: 'wan0', root: true, options: { limit: 1000, delay: { delay: 0.1, jitter: 0.005, correlation: 0 }, 'loss-random': { loss: 0.004999999, correlation: 0 } } },
  ]);
  const want = qdiscOf({ delay: 100_000, jitter: 5000, loss: 0.5 });
  assert.ok(qdiscMatches(want, netem.get('wan0')), 'loss stored as a 32-bit fraction still matches');
  assert.ok(!qdiscMatches(qdiscOf({ delay: 100_000 }), netem.get('wan0')), 'extra jitter and loss in the kernel are a difference');
  assert.ok(!qdiscMatches(undefined, netem.get('wan0')));
  assert.ok(qdiscMatches(undefined, undefined));
});

test('a fresh lab with impairments: tc after the links, one tc batch per namespace', () => {
  const { desired } = labOf(WAN);
  const p = diff(desired, emptyObserved(), undefined);
  const lines = p.actions.map(line);
  assert.ok(lines.includes('~   impairment on a:wan0: netem delay 100ms jitter 5ms loss 0.5%  (not in the kernel)'), lines.join('\n'));
  assert.ok(lines.includes('~   impairment on b:wan0: tbf rate 10mbit  (not in the kernel)'));
  const script = scriptOf(render(p.actions, 'wan'));
  assert.match(script, /nsenter --net=\/run\/netns\/a tc -batch - <<'EOF'\nqdisc replace dev wan0 root netem delay 100ms 5ms loss 0\.5%\nEOF/);
  assert.match(script, /nsenter --net=\/run\/netns\/b tc -batch - <<'EOF'\nqdisc replace dev wan0 root tbf rate 10mbit burst 15140 latency 50ms\nEOF/);
  const steps = render(p.actions, 'wan');
  const tc = steps.filter((s) => s.argv.includes('tc'));
  assert.deepEqual(
    tc.map((s) => s.argv.slice(0, 2)),
    [
      ['nsenter', '--net=/run/netns/a'],
      ['nsenter', '--net=/run/netns/b'],
    ],
    'one tc batch per namespace',
  );
  assert.ok(tc.every((s) => s.phase === 'configure'));
});

test('impairments reconcile in place: changed, drifted, removed', () => {
  const { desired } = labOf(WAN);
  const base = applied(desired);
  for (const [ns, s] of desired.ns) for (const l of s.links.values()) if (l.qdisc) base.observed.ns.get(ns)!.links.get(l.name)!.qdisc = l.qdisc;
  assert.deepEqual(diff(desired, base.observed, base.journal).actions.map(line), [], 'applied: nothing to do');
  // Changed at runtime (netlab impair, or tc by hand): drift, put back.
  base.observed.ns.get('b')!.links.get('wan0')!.qdisc = { kind: 'netem', impair: { delay: 50_000 } };
  assert.deepEqual(diff(desired, base.observed, base.journal).actions.map(line), ['~   impairment on b:wan0: tbf rate 10mbit  (is netem delay 50ms)']);
  // The file drops a's impairments: the qdisc goes, nothing else changes.
  const edited = labOf(WAN.replace('      a: {delay: 100ms, jitter: 5ms, loss: 0.5%}\n', '')).desired;
  base.observed.ns.get('b')!.links.get('wan0')!.qdisc = desired.ns.get('b')!.links.get('wan0')!.qdisc!;
  assert.deepEqual(diff(edited, base.observed, base.journal).actions.map(line), ['-   impairment on a:wan0  (not in the lab file (is netem delay 100ms jitter 5ms loss 0.5%))']);
  assert.match(scriptOf(render(diff(edited, base.observed, base.journal).actions)), /nsenter --net=\/run\/netns\/a tc -batch - <<'EOF'\nqdisc del dev wan0 root\nEOF/);
});

test('VRF, dummy, bond and stacked VLANs: created in the namespace batch after their parents, members enslaved', () => {
  const { desired } = labOf(VRF);
  const p = diff(desired, emptyObserved(), undefined);
  const script = scriptOf(render(p.actions, 'v'));
  const pe = /nsenter --net=\/run\/netns\/pe ip -batch - <<'EOF'\n([\s\S]*?)EOF/.exec(script)![1]!.split('\n');
  const at = (s: string) => pe.findIndex((l) => l.startsWith(s));
  assert.ok(at('link add name red type vrf table 10') >= 0, script);
  assert.ok(at('link add name lo-red type dummy') >= 0);
  assert.ok(at('link add name bond0 type bond mode active-backup miimon 100 primary e1') >= 0, 'the first member is the primary: both ends of a link pick the same active member');
  assert.ok(at('link add link bond0 name bond0.7 type vlan id 7 protocol 802.1Q') > at('link add name bond0 '));
  assert.ok(at('link add link bond0.7 name bond0.7.8 type vlan id 8 protocol 802.1ad') > at('link add link bond0 '));
  // A bond takes members that are down, and the kernel applies `up` before `master` in one
  // command: down, enslave, up, on three lines.
  assert.equal(at('link set dev e1 alias netlab:v master bond0'), at('link set dev e1 down') + 1);
  assert.equal(pe[at('link set dev e1 down') + 2], 'link set dev e1 up');
  assert.ok(!pe.includes('link set dev e1 alias netlab:v master bond0 up'));
  // A VLAN comes up only after its parent.
  assert.ok(at('link set dev bond0.7 alias netlab:v up') > at('link set dev bond0 alias netlab:v up'));
  assert.ok(at('link set dev bond0 alias netlab:v up') > at('link set dev e2 up'), 'the bond comes up after its members are in');
  assert.ok(at('link set dev to-red alias netlab:v master red up') > at('link add name red '));
  assert.ok(at('route add 10.1.99.0/24 via 10.1.0.2 table 10') > at('addr add 10.1.0.1/24 dev to-red'));
  // The veths come first, from the root namespace, in the links phase.
  assert.ok(script.indexOf('type veth peer name eth0 netns c') < script.indexOf('nsenter --net=/run/netns/pe ip -batch'));
});

test('a VLAN id, VRF table or bond mode change re-creates that interface only', () => {
  const { desired } = labOf(VRF);
  const base = applied(desired);
  assert.deepEqual(diff(desired, base.observed, base.journal).actions.map(line), []);
  const edited = labOf(VRF.replace('id: 7,', 'id: 9,').replace('table: 10, members', 'table: 11, members').replace("table 10'", "table 11'")).desired;
  const lines = diff(edited, base.observed, base.journal).actions.map(line);
  assert.ok(lines.includes('-/+ link pe:bond0.7  (was VLAN 7 on bond0)'), lines.join('\n'));
  assert.ok(lines.includes('-/+ vlan pe:bond0.7 on bond0 id 9  (re-create with the new settings)'), lines.join('\n'));
  assert.ok(lines.includes('-/+ link pe:red  (was the VRF of table 10)'), lines.join('\n'));
  assert.ok(!lines.some((l) => / pe:bond0 /.test(l) && l.startsWith('-')), 'the bond stays');
});

test('ip -j -d output of VLAN, VRF, bond and dummy links reads back as the desired state', () => {
  const links = parseLinks([
    {
      ifname: 'eth0.10',
      link: 'eth0',
      flags: ['UP'],
      mtu: 1500,
      address: '02:00:00:00:00:01',
      ifalias: 'netlab:x',
      linkinfo: { info_kind: 'vlan', info_data: { protocol: '802.1Q', id: 10, flags: ['REORDER_HDR'] } },
      addr_info: [],
    },
    { ifname: 'red', flags: ['UP'], linkinfo: { info_kind: 'vrf', info_data: { table: 10 } }, addr_info: [] },
    { ifname: 'bond0', flags: ['UP'], linkinfo: { info_kind: 'bond', info_data: { mode: 'active-backup', miimon: 100 } }, addr_info: [] },
    { ifname: 'lo-red', flags: ['UP'], master: 'red', linkinfo: { info_kind: 'dummy', info_slave_kind: 'vrf' }, addr_info: [{ family: 'inet', local: '10.255.1.1', prefixlen: 32 }] },
  ]);
  assert.deepEqual(links.get('eth0.10')?.vlan, { link: 'eth0', id: 10, protocol: '802.1Q' });
  assert.equal(links.get('red')?.vrfTable, 10);
  assert.equal(links.get('bond0')?.bondMode, 'active-backup');
  assert.equal(links.get('lo-red')?.kind, 'dummy');
  assert.equal(links.get('lo-red')?.master, 'red');
});

test('a lab names the optional kernel features it needs, with the object that needs each', () => {
  assert.deepEqual(labFeatures(labOf(WAN).lab), [
    { feature: 'netem', object: 'impairment on a:wan0' },
    { feature: 'tbf', object: 'impairment on b:wan0' },
  ]);
  assert.deepEqual(
    labFeatures(labOf(VRF).lab).map((f) => f.feature),
    ['vrf', 'dummy', 'bond', 'vlan'],
  );
  assert.deepEqual(labFeatures(labOf('name: plain\nnodes:\n  a:\n').lab), []);
});

test('netlab impair: options to an impairment, with the value that is wrong named', () => {
  assert.deepEqual(impairmentOf({ delay: '100ms', jitter: '10ms', loss: '1' }), { delay: 100_000, jitter: 10_000, loss: 1 });
  assert.deepEqual(impairmentOf({ rate: '1mbit', limit: '50' }), { rate: 1_000_000, limit: 50 });
  assert.throws(() => impairmentOf({ delay: '100' }), /--delay 100: not a valid value/);
  assert.throws(() => impairmentOf({ loss: '150%' }), /--loss 150%/);
  assert.throws(() => impairmentOf({ jitter: '5ms' }), /--jitter needs --delay/);
});

test("the kernel's own VRF rule (l3mdev, pref 1000) is not the lab's and never deleted", () => {
  const rules = parseRules(
    [
      { priority: 0, src: 'all', table: 'local' },
      { priority: 1000, src: 'all', l3mdev: null },
      { priority: 32766, src: 'all', table: 'main' },
      { priority: 32767, src: 'all', table: 'default' },
    ],
    'ipv4',
  );
  assert.deepEqual(rules, []);
});
