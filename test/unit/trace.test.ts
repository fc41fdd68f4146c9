// netlab trace, pure parts: the trace table, parsing `nft monitor trace` captured from the kernel,
// ordering namespaces along the path, the outcome.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { firstPacket, formatTrace, orderNamespaces, outcome, parseTrace, traceTable } from '../../src/trace/parse.js';
import { adjacency } from '../../src/trace/trace.js';
import { labOf } from '../lib/fixtures.js';

const fx = (f: string) => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/trace/${f}`, import.meta.url)), 'utf8');

test('the trace table hooks before raw and matches only the probe', () => {
  const t = traceTable({ to: '10.0.2.2', family: 'ipv4', proto: 'tcp', port: 80 });
  assert.match(t, /^table ip netlab_trace \{/);
  assert.match(t, /type filter hook prerouting priority -350; ip daddr 10\.0\.2\.2 meta l4proto tcp th dport 80 meta nftrace set 1;/);
  assert.match(t, /type filter hook output priority -350;/);
  assert.match(traceTable({ to: '2001:db8::2', family: 'ipv6', proto: 'icmp' }), /table ip6 netlab_trace[\s\S]*ip6 daddr 2001:db8::2 meta l4proto ipv6-icmp/);
});

test('a forwarded packet walks raw, mangle, nat PREROUTING, then FORWARD and POSTROUTING', () => {
  const hops = parseTrace('router', fx('router-forward.txt'));
  assert.deepEqual(
    hops.map((h) => `${h.table}/${h.chain}`),
    ['raw/PREROUTING', 'mangle/PREROUTING', 'nat/PREROUTING', 'mangle/FORWARD', 'filter/FORWARD', 'mangle/POSTROUTING', 'nat/POSTROUTING'],
  );
  assert.equal(hops[0]!.iif, 'eth0');
  assert.equal(hops[4]!.oif, 'eth1');
  assert.ok(hops.every((h) => h.verdict === 'policy accept'));
  assert.match(hops[4]!.rules.at(-1)!, /^ct state new,/);
});

test('a delivered packet ends in INPUT; the outcome says where', () => {
  const server = parseTrace('server', fx('server-input.txt'));
  assert.deepEqual(
    server.map((h) => `${h.table}/${h.chain}`),
    ['raw/PREROUTING', 'mangle/PREROUTING', 'nat/PREROUTING', 'mangle/INPUT', 'filter/INPUT', 'nat/INPUT'],
  );
  const all = [...parseTrace('router', fx('router-forward.txt')), ...server];
  const o = outcome(all, true);
  assert.equal(o.result, 'delivered');
  assert.equal(o.ns, 'server');
  const text = formatTrace(all, o);
  assert.equal(text[0], 'router (in: eth0)');
  assert.match(text.at(-1)!, /=> delivered locally in server/);
});

test('a drop names the table, chain, namespace and rule', () => {
  const lines = [
    'trace id aa ip netlab_trace pre packet: iif "eth0" ip saddr 172.17.0.1 ip daddr 172.17.0.2',
    'trace id aa ip filter INPUT packet: iif "eth0" ip saddr 172.17.0.1 ip daddr 172.17.0.2',
    'trace id aa ip filter INPUT rule ip saddr 172.17.0.1 counter packets 3 bytes 252 drop (verdict drop)',
  ].join('\n');
  const hops = parseTrace('c1', lines);
  assert.deepEqual(
    hops.map((h) => [h.chain, h.verdict]),
    [['INPUT', 'drop']],
  );
  assert.equal(outcome(hops, false).text, 'dropped at filter/INPUT in c1 by rule: ip saddr 172.17.0.1 drop');
});

test('a namespace without iptables rules still shows it passed; a second packet is cut off', () => {
  const hops = parseTrace('client', 'trace id bb ip netlab_trace out packet: oif "eth0" ip daddr 10.0.2.2\ntrace id bb ip netlab_trace out policy accept');
  assert.deepEqual(
    hops.map((h) => [h.table, h.chain, h.oif]),
    [['-', 'OUTPUT', 'eth0']],
  );
  const two = firstPacket([
    { ns: 'p', id: 'x', table: 'mangle', chain: 'PREROUTING', rules: [], verdict: 'accept' },
    { ns: 'p', id: 'x', table: 'mangle', chain: 'INPUT', rules: [], verdict: 'policy accept' },
    { ns: 'p', id: 'x', table: 'mangle', chain: 'PREROUTING', rules: [], verdict: 'accept' },
  ]);
  assert.equal(two.length, 2);
});

test('namespaces are ordered along the path through veths and bridges', () => {
  const { lab } = labOf(`
name: t
nodes:
  a:
  r:
  s:
  hostb:
bridges:
  br0: {node: hostb}
links:
  - endpoints: [a:eth0, r:eth0]
  - endpoints: [r:eth1, br0:p1]
  - endpoints: [s:eth0, br0:p2]
`);
  const adj = adjacency(lab);
  assert.ok(adj('a', 'r') && adj('r', 's') && adj('r', 'hostb') && !adj('a', 's'));
  assert.deepEqual(orderNamespaces('a', ['s', 'r', 'a'], adj), ['a', 'r', 's']);
});
