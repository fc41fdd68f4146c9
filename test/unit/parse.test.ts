// Parsers on output captured from the real tools (test/fixtures/ip/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseLinks, parseRoutes, parseRules, parseSysctlGrep, splitJsonDocs } from '../../src/observe/parse.js';
import { normalizeSave } from '../../src/render/iptables.js';
import { taggedRules } from '../../src/observe/observe.js';

const fx = (f: string) => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/ip/${f}`, import.meta.url)), 'utf8');

test('ip -j -batch output splits into one document per command', () => {
  const docs = splitJsonDocs(fx('c1-batch.txt'));
  assert.equal(docs.length, 3);
});

test('links: kind, state, master-less veth, managed addresses only', () => {
  const [addr] = splitJsonDocs(fx('c1-batch.txt'));
  const links = parseLinks(addr!);
  const lo = links.get('lo')!;
  assert.equal(lo.kind, 'loopback');
  assert.equal(lo.up, true);
  assert.deepEqual(lo.addresses, [], "lo's 127.0.0.1/8 and ::1 are the kernel's");
  assert.equal(lo.alias, 'netlab:iptables-drop');
  const eth0 = links.get('eth0')!;
  assert.equal(eth0.kind, 'veth');
  assert.equal(eth0.mtu, 1500);
  assert.match(eth0.mac!, /^[0-9a-f:]{17}$/);
  assert.deepEqual(eth0.addresses.sort(), ['172.17.0.2/16', '2001:db8::2/64'], 'the fe80:: link-local address is not managed');
});

test('links: a bridge and its ports with master', () => {
  const links = parseLinks(JSON.parse(fx('docker-host-addr.json')) as unknown[]);
  assert.equal(links.get('docker0')!.kind, 'bridge');
  assert.deepEqual(links.get('docker0')!.addresses, ['172.17.0.1/16']);
  assert.equal(links.get('veth-c1')!.master, 'docker0');
  assert.equal(links.get('veth-c1')!.kind, 'veth');
});

test('routes: only the non-kernel ones, with type, table, metric, scope', () => {
  const [, routes] = splitJsonDocs(fx('c1-batch.txt'));
  const rs = parseRoutes(routes!);
  assert.deepEqual(rs.map((r) => `${r.type} ${r.to} ${r.via ?? '-'} ${r.dev ?? '-'} ${r.scope} ${r.metric} ${r.table} ${r.family}`).sort(), [
    'local 0.0.0.0/0 - lo host 0 100 ipv4',
    'unicast 10.9.0.0/16 172.17.0.3 eth0 global 7 254 ipv4',
    'unicast 2001:db8:9::/48 2001:db8::3 eth0 global 1024 254 ipv6',
  ]);
});

test('rules: the kernel defaults are left out; marks and prefixes are canonical', () => {
  const [, , rules] = splitJsonDocs(fx('c1-batch.txt'));
  const rs = parseRules(rules!, 'ipv4');
  assert.deepEqual(rs, [
    { family: 'ipv4', from: '10.0.0.0/8', iif: 'eth0', pref: 99, table: 5 },
    { family: 'ipv4', fwmark: '0x1/0x1', pref: 100, table: 100 },
  ]);
  const r6 = parseRules(JSON.parse(fx('c1-rule6.json')) as unknown[], 'ipv6');
  assert.deepEqual(r6, [{ family: 'ipv6', from: '2001:db8::/32', pref: 200, table: 6 }]);
});

test('iptables-save normalizes to tables without counters or comments', () => {
  const t = normalizeSave(fx('c1-iptables-save.txt'));
  assert.deepEqual([...t.keys()], ['filter']);
  assert.equal(t.get('filter'), ':INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT\n-A INPUT -s 172.17.0.1/32 -j DROP');
});

test('tagged host rules are found by their exact comment', () => {
  const saved = new Map([['filter', ':INPUT ACCEPT\n-A FORWARD -i br0 -m comment --comment netlab:lab1 -j ACCEPT\n-A FORWARD -m comment --comment netlab:lab10 -j ACCEPT\n-A INPUT -j ACCEPT']]);
  const rules = taggedRules(saved, 'ipv4', 'lab1');
  assert.deepEqual(rules, [{ family: 'ipv4', table: 'filter', chain: 'FORWARD', spec: '-i br0 -m comment --comment netlab:lab1 -j ACCEPT', pos: 1 }]);
});

test("a tagged host rule with a comment of its own is still the lab's; a comment that only mentions the tag is not", () => {
  const saved = new Map([
    [
      'filter',
      [
        '-A INPUT -s 10.0.0.1/32 -m comment --comment "allow the backup host" -m comment --comment netlab:lab1 -j ACCEPT',
        '-A INPUT -m comment --comment "see netlab:lab1" -j ACCEPT',
        '-A INPUT -m comment --comment "netlab:lab1 x" -j ACCEPT',
        '-A INPUT -m comment --comment "netlab:lab1" -j DROP',
      ].join('\n'),
    ],
  ]);
  const rules = taggedRules(saved, 'ipv4', 'lab1');
  assert.deepEqual(
    rules.map((r) => r.pos),
    [1, 4],
  );
});

test('sysctl reads', () => {
  const s = parseSysctlGrep('/proc/sys/net/ipv4/ip_forward:1\n/proc/sys/net/ipv4/tcp_rmem:4096\t131072\t6291456\n');
  assert.equal(s.get('net/ipv4/ip_forward'), '1');
  assert.equal(s.get('net/ipv4/tcp_rmem'), '4096 131072 6291456');
});
