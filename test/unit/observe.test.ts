// observeNamespaces with a scripted runner: which commands read a namespace, and how their
// outputs (captured from the real tools in a namespace, test/fixtures/observe/) are parsed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ObserveError, observeNamespaces } from '../../src/observe/observe.js';
import { ScriptedRunner } from '../lib/scripted-runner.js';
import { HOST } from '../../src/model/types.js';
import { fakeFiles } from '../lib/fixtures.js';

const fx = (f: string) => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/observe/${f}`, import.meta.url)), 'utf8');
const IN = 'nsenter --net=/run/netns/obsfx';

const full = {
  v6rules: true,
  qdiscs: true,
  iptables: ['ipv4', 'ipv6'] as ('ipv4' | 'ipv6')[],
  sysctls: ['net/ipv4/ip_forward', 'net/ipv4/conf/eth0/proxy_arp', 'net/ipv4/conf/nope/proxy_arp'],
};

/**
 * The real tools' answers in namespace obsfx (grep exits 2: one of the keys does not exist);
 * `first` replies take precedence (ScriptedRunner answers with the first prefix that matches).
 */
function captured(first: [string, { stdout?: string; stderr?: string; exitCode?: number }][] = []): ScriptedRunner {
  const r = new ScriptedRunner({ exitCode: 99, stderr: 'unexpected command' });
  for (const [prefix, reply] of first) r.on(prefix, reply);
  return r
    .on(`${IN} ip -j -d -batch -`, { stdout: fx('ip-batch.json') })
    .on(`${IN} ip -6 -j rule show`, { stdout: fx('ip6-rule.json') })
    .on(`${IN} tc -j qdisc show`, { stdout: fx('tc-qdisc.json') })
    .on(`${IN} grep -H -s  /proc/sys/`, { stdout: fx('sysctl-grep.txt'), exitCode: 2 })
    .on(`${IN} iptables-save`, { stdout: fx('iptables-save.txt') })
    .on(`${IN} ip6tables-save`, { stdout: fx('ip6tables-save.txt') });
}

test('a lab namespace is read through nsenter --net (no mount namespace copy), one command per reader', async () => {
  const r = captured();
  await observeNamespaces(r, [['obsfx', full]]);
  assert.deepEqual(
    r.calls.map((c) => c.argv.join(' ')),
    [
      `${IN} ip -j -d -batch -`,
      `${IN} ip -6 -j rule show`,
      `${IN} tc -j qdisc show`,
      `${IN} grep -H -s  /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/eth0/proxy_arp /proc/sys/net/ipv4/conf/nope/proxy_arp`,
      `${IN} iptables-save`,
      `${IN} ip6tables-save`,
    ],
  );
  assert.equal(r.calls[0]!.input, 'addr show\nroute show table all\nrule show\n');
});

test('captured output: links, routes, both rule families, qdisc, both iptables families, the sysctls that exist', async () => {
  const o = (await observeNamespaces(captured(), [['obsfx', full]])).get('obsfx')!;
  assert.deepEqual([...o.links.keys()].sort(), ['eth0', 'eth1', 'lo']);
  assert.deepEqual(o.links.get('eth0')!.addresses, ['10.9.0.1/24']);
  assert.equal(o.links.get('eth0')!.qdisc?.kind, 'tbf');
  assert.equal(o.links.get('eth1')!.qdisc, undefined);
  assert.ok(o.routes.some((x) => x.to === '10.8.0.0/24' && x.via === '10.9.0.2'));
  assert.ok(o.rules.some((x) => x.family === 'ipv4' && x.pref === 90 && x.fwmark === '0x1' && x.table === 100));
  assert.ok(o.rules.some((x) => x.family === 'ipv6' && x.pref === 100 && x.from === '2001:db8::/64' && x.table === 100));
  assert.deepEqual([...o.iptables.keys()].sort(), ['ipv4/filter', 'ipv4/nat', 'ipv6/filter']);
  assert.match(o.iptables.get('ipv4/filter')!, /^-A INPUT -s 192\.168\.20\.2\/32 -j DROP$/m);
  assert.match(o.iptables.get('ipv4/nat')!, /^:MYCHAIN -$/m);
  assert.match(o.iptables.get('ipv6/filter')!, /^:FORWARD DROP$/m);
  assert.deepEqual(
    [...o.sysctls],
    [
      ['net/ipv4/ip_forward', '1'],
      ['net/ipv4/conf/eth0/proxy_arp', '0'],
    ],
  );
});

test('a failed read is an error naming the command and its input; only grep may fail (a missing key)', async () => {
  const gone = new ScriptedRunner({ exitCode: 1, stderr: 'nsenter: cannot open /run/netns/obsfx: No such file or directory\n' });
  await assert.rejects(observeNamespaces(gone, [['obsfx', full]]), (e: unknown) => {
    assert.ok(e instanceof ObserveError);
    assert.equal(
      e.message,
      `reading the kernel's state failed: ${IN} ip -j -d -batch - <<< "addr show\\nroute show table all\\nrule show\\n": nsenter: cannot open /run/netns/obsfx: No such file or directory`,
    );
    return true;
  });
  const failing = captured([[`${IN} iptables-save`, { exitCode: 1, stderr: 'iptables-save: boom' }]]);
  await assert.rejects(observeNamespaces(failing, [['obsfx', full]]), /failed: nsenter --net=\/run\/netns\/obsfx iptables-save: iptables-save: boom$/);
});

test('the host is read without nsenter, and without routes, rules or iptables; its sysctls are files netlab reads itself', async () => {
  const r = new ScriptedRunner({ stdout: '[]\n' });
  const files = fakeFiles({ sysctls: { 'net/ipv4/ip_forward': '1' } });
  const host = (await observeNamespaces(r, [[HOST, { v6rules: false, qdiscs: true, iptables: [], sysctls: ['net/ipv4/ip_forward', 'net/ipv4/nope'] }]], files)).get(HOST)!;
  assert.deepEqual(
    r.calls.map((c) => c.argv.join(' ')),
    ['ip -j -d -batch -', 'tc -j qdisc show'],
  );
  assert.deepEqual([...host.sysctls], [['net/ipv4/ip_forward', '1']]);
  assert.equal(r.calls[0]!.input, 'addr show\n');
});

test("the host's sysctls are read from /proc/sys as sysctl -n shows them; a missing key is left out", async () => {
  const { hostFiles, sysctlValue } = await import('../../src/observe/files.js');
  assert.equal(sysctlValue('1\n'), '1');
  assert.equal(sysctlValue('4096\t16384   4194304\n'), '4096 16384 4194304');
  assert.equal(sysctlValue(''), undefined);
  const m = hostFiles.sysctls(['net/ipv4/ip_forward', 'net/ipv4/no_such_key']);
  assert.match(m.get('net/ipv4/ip_forward') ?? '', /^[01]$/);
  assert.ok(!m.has('net/ipv4/no_such_key'));
});

test('ipsets are read with one more command in the same batch as the iptables reads, only where the lab has or had sets', async () => {
  const r = captured([[`${IN} ipset save`, { stdout: fx('ipset-save.txt') }]]);
  const o = (await observeNamespaces(r, [['obsfx', { ...full, ipsets: true }]])).get('obsfx')!;
  assert.deepEqual(r.calls.map((c) => c.argv.join(' ')).slice(-2), [`${IN} ip6tables-save`, `${IN} ipset save`]);
  assert.deepEqual(
    [...o.ipsets!.values()],
    [
      { name: 'cali40masq-ipam-pools', type: 'hash:net', family: 'ipv4', members: ['10.65.0.0/16'] },
      { name: 'ports', type: 'hash:ip,port', family: 'ipv4', members: ['10.0.0.1,tcp:80'] },
      { name: 'six', type: 'hash:net', family: 'ipv6', members: ['2001:db8::/32'] },
    ],
  );
  const without = captured();
  const none = (await observeNamespaces(without, [['obsfx', full]])).get('obsfx')!;
  assert.ok(!without.calls.some((c) => c.argv.includes('ipset')), 'no set read where the lab has none');
  assert.equal(none.ipsets, undefined);
});
