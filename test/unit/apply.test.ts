// apply with a scripted runner: journal before changes, failures named by lab object.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Applier, ApplyError } from '../../src/apply/apply.js';
import { applyAll } from '../lib/apply.js';
import { describeSysctlFailure, parseFacts, refusals } from '../../src/apply/sysctls.js';
import { diff } from '../../src/plan/diff.js';
import { render } from '../../src/render/render.js';
import { ScriptedRunner } from '../lib/scripted-runner.js';
import { newJournal, readJournal } from '../../src/state/journal.js';
import { emptyObserved, labOf, noProcesses } from '../lib/fixtures.js';
import type { Action } from '../../src/plan/actions.js';
import { HOST } from '../../src/model/types.js';

const dir = mkdtempSync(join(tmpdir(), 'netlab-unit-'));
process.env.NETLAB_STATE_DIR = dir;
after(() => rmSync(dir, { recursive: true, force: true }));

const LAB = `
name: ap
nodes:
  ns1:
    iptables:
      filter:
        INPUT: [-s 10.0.0.9 -j DROP]
  ns2:
bridges:
  br1: {}
links:
  - endpoints: [ns1:tap1, br1:tap1_peer]
    addresses: {ns1: 10.0.0.1/24}
  - endpoints: [ns2:tap2, br1:tap2_peer]
    addresses: {ns2: 10.0.0.2/24}
`;

test('the journal names namespaces and host links before the commands that make them run', async () => {
  const { desired } = labOf(LAB);
  const plan = diff(desired, emptyObserved(), undefined);
  const seen: string[] = [];
  const runner = new ScriptedRunner()
    .on('sh -c', (_argv, input) => {
      const j = readJournal('ap')!;
      if (input?.startsWith('netns add')) seen.push(`netns: journal has ${j.namespaces.join(',')}`);
      return { exitCode: 0 };
    })
    .on('ip -batch', (_argv, input) => {
      const j = readJournal('ap')!;
      if (input?.startsWith('netns add')) seen.push(`netns: journal has ${j.namespaces.join(',')}`);
      if (input?.includes('type veth')) seen.push(`links: journal has ${j.hostLinks.join(',')}`);
      return { exitCode: 0 };
    })
    .on('nsenter --net=/run/netns/ns1 iptables-save', { stdout: '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.9/32 -j DROP\nCOMMIT\n' });
  const j = newJournal('ap', '/x/lab.yaml');
  await applyAll(runner, render(plan.actions), desired, j);
  assert.deepEqual(seen, ['netns: journal has ns1,ns2', 'links: journal has br1,tap1_peer,tap2_peer']);
  const final = JSON.parse(readFileSync(join(dir, 'labs', 'ap.json'), 'utf8'));
  assert.equal(final.status, 'up');
  assert.deepEqual(final.iptables.ns1['ipv4/filter'].saved, ':INPUT ACCEPT\n-A INPUT -s 10.0.0.9/32 -j DROP');
  assert.equal(final.peers[''].tap1_peer, 'ns1/tap1');
});

test('a failing batch line is reported with its lab object, the line, the command and stderr', async () => {
  const { desired } = labOf(LAB);
  const plan = diff(desired, emptyObserved(), undefined);
  const runner = new ScriptedRunner().on('nsenter --net=/run/netns/ns2 ip -batch', { exitCode: 1, stderr: 'Error: ipv4: Address already assigned.\nCommand failed -:3\n' });
  const j = newJournal('ap', '/x/lab.yaml');
  await assert.rejects(applyAll(runner, render(plan.actions), desired, j), (e: unknown) => {
    assert.ok(e instanceof ApplyError);
    assert.equal(e.object, 'link ns2:tap2 <-> br1:tap2_peer');
    assert.equal(e.line, 'addr add 10.0.0.2/24 dev tap2');
    assert.match(e.command, /^nsenter --net=\/run\/netns\/ns2 ip -batch - <<'EOF'/);
    assert.match(e.message, /Address already assigned/);
    return true;
  });
  assert.equal(readJournal('ap')!.status, 'failed');
});

test('an iptables-restore failure names the table and the rule line', async () => {
  const { desired } = labOf(LAB);
  const plan = diff(desired, emptyObserved(), undefined);
  const runner = new ScriptedRunner().on('nsenter --net=/run/netns/ns1 iptables-restore', {
    exitCode: 2,
    stderr: 'iptables-restore v1.8.9 (nf_tables): \nline 5: RULE_APPEND failed (Invalid argument): rule in chain INPUT\n',
  });
  await assert.rejects(applyAll(runner, render(plan.actions), desired, newJournal('ap', '/x')), (e: unknown) => {
    assert.ok(e instanceof ApplyError);
    assert.equal(e.object, 'iptables filter in ns1');
    assert.equal(e.line, '-A INPUT -s 10.0.0.9 -j DROP');
    return true;
  });
});

test('a failed batch is rolled back: the lines before the failing one are undone, newest first; the other steps of the phase finish', async () => {
  const { desired } = labOf(LAB.replace('  ns2:\n', "  ns2:\n    routes: ['10.9.0.0/24 via 10.0.0.254']\n"));
  const plan = diff(desired, emptyObserved(), undefined);
  const runner = new ScriptedRunner().on('nsenter --net=/run/netns/ns2 ip -batch', { exitCode: 2, stderr: 'Error: Nexthop has invalid gateway.\nCommand failed -:4\n' });
  const j = newJournal('ap', '/x/lab.yaml');
  await assert.rejects(applyAll(runner, render(plan.actions), desired, j), (e: unknown) => {
    assert.ok(e instanceof ApplyError);
    assert.equal(e.line, 'route add 10.9.0.0/24 via 10.0.0.254');
    assert.deepEqual(e.rollback?.failed, []);
    assert.deepEqual(e.rollback?.commands, ["nsenter --net=/run/netns/ns2 ip -force -batch - <<'EOF'\naddr del 10.0.0.2/24 dev tap2\nEOF"]);
    return true;
  });
  const argv = runner.calls.map((c) => c.argv.join(' '));
  assert.ok(argv.includes('nsenter --net=/run/netns/ns1 ip -batch -'), 'the other namespace of the phase still ran');
  assert.ok(argv.indexOf('nsenter --net=/run/netns/ns2 ip -force -batch -') > argv.indexOf('nsenter --net=/run/netns/ns2 ip -batch -'));
  assert.ok(!argv.some((a) => a.startsWith('nsenter --net=/run/netns/ns1 iptables-restore')), 'the next phase did not start');
});

test('inverse: adds are deleted, sysctls set back; changes in place are left to the next up', async () => {
  const { inverse, appliedActions } = await import('../../src/apply/apply.js');
  const add = { kind: 'netns.add', ns: 'a', object: 'node a', reason: '' } as const;
  assert.deepEqual(inverse(add), { kind: 'netns.del', ns: 'a', object: 'node a', reason: 'roll back the failed step' });
  assert.equal(inverse({ kind: 'sysctl.set', ns: 'a', key: 'net/ipv4/ip_forward', value: '1', object: 'node a', reason: '' }), undefined, 'no previous value known');
  assert.equal(inverse({ kind: 'sysctl.set', ns: 'a', key: 'net/ipv4/ip_forward', value: '1', previous: '0', object: 'node a', reason: '' })?.kind, 'sysctl.set');
  assert.equal(inverse({ kind: 'link.set', ns: 'a', name: 'e', set: { up: true }, object: '', reason: '' }), undefined);
  assert.equal(inverse({ kind: 'qdisc.replace', ns: 'a', dev: 'e', qdisc: { kind: 'tbf', impair: { rate: 1 } }, object: '', reason: '' }), undefined, 'a replaced qdisc had a previous one');
  const step = { phase: 'configure' as const, ns: 'a', argv: [], lines: [add, add, { ...add, ns: 'b' }], actions: [] };
  assert.deepEqual(
    appliedActions(step, 'Command failed -:3').map((a) => a.ns),
    ['a'],
  );
});

test('gc: a read tool that cannot run (exit 127) is an error, not "every namespace is unmarked"; a namespace gone since the list is skipped', async () => {
  const { gc } = await import('../../src/apply/gc.js');
  const { ObserveError } = await import('../../src/observe/observe.js');
  const files = { ...noProcesses, netns: () => ['ns1'], procNetDev: () => '' };
  const missing = new ScriptedRunner().on('nsenter --net=/run/netns/ns1 ip -j link show dev lo', { exitCode: 127, stderr: 'nsenter: command not found' });
  await assert.rejects(
    gc(missing, { dryRun: true, files }),
    (e: unknown) => e instanceof ObserveError && /nsenter --net=\/run\/netns\/ns1 ip -j link show dev lo: nsenter: command not found/.test(e.message),
  );
  const vanished = new ScriptedRunner()
    .on('nsenter --net=/run/netns/ns1', { exitCode: 1, stderr: 'nsenter: cannot open /run/netns/ns1: No such file or directory' })
    .on('ip -j -d link show', { stdout: '[]\n' })
    .on('iptables-save', { stdout: '' })
    .on('ip6tables-save', { stdout: '' });
  const r = await gc(vanished, { dryRun: true, files });
  assert.deepEqual(r.namespaces, []);
});

test('down: host veth ends that received packets are set down first, then the namespaces, other host links, bridges last', async () => {
  const { teardown } = await import('../../src/apply/teardown.js');
  const { hostDevices } = await import('../../src/observe/files.js');
  const veth = (ifname: string, up: boolean) => ({ ifname, flags: up ? ['UP'] : [], ifalias: 'netlab:td', master: 'br1', linkinfo: { info_kind: 'veth' } });
  const links = [
    { ifname: 'br1', flags: ['UP'], ifalias: 'netlab:td', linkinfo: { info_kind: 'bridge' } },
    veth('tap1_peer', true), // received packets: its namespace may hold unresolved neighbours
    veth('tap2_peer', false), // down already: its peer has no carrier
    veth('tap3_peer', true), // received nothing: its namespace never sent a solicitation
    veth('tap4_peer', true), // not in /proc/net/dev when read: counters unknown
    veth('tap5_peer', true), // dropped on receive only
    { ifname: 'vx1', flags: ['UP'], ifalias: 'netlab:td', linkinfo: { info_kind: 'vxlan' } },
    { ifname: 'mine', flags: ['UP'], ifalias: 'someone else', linkinfo: { info_kind: 'veth' } },
  ];
  const ns = ['ns1', 'ns2', 'ns3', 'ns4', 'ns5'];
  const runner = new ScriptedRunner().on('ip -j -d link show', { stdout: `${JSON.stringify(links)}\n` });
  const procNetDev = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:    6386      58    0    0    0     0          0         0     6386      58    0    0    0     0       0          0',
    'tap1_peer:     196       2    0    0    0     0          0         0      196       2    0    0    0     0       0          0',
    'tap2_peer:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0',
    'tap3_peer:       0       0    0    0    0     0          0         0      980      10    0    0    0     0       0          0',
    'tap5_peer:       0       0    0    3    0     0          0         0        0       0    0    0    0     0       0          0',
    '',
  ].join('\n');
  // ns1-ns4 have the identity recorded (no read needed); ns5 has none (an old journal): its mark
  // on lo proves it; nsB was re-created since and carries another lab's mark.
  const id = (n: string) => ({ ino: 100 + n.charCodeAt(2), mtime: '1.5' });
  runner
    .on('nsenter --net=/run/netns/ns5 ip -j link show dev lo', { stdout: `${JSON.stringify([{ ifname: 'lo', ifalias: 'netlab:td' }])}\n` })
    .on('nsenter --net=/run/netns/nsB ip -j link show dev lo', { stdout: `${JSON.stringify([{ ifname: 'lo', ifalias: 'netlab:b' }])}\n` });
  const j = {
    ...newJournal('td', '/x.yaml'),
    namespaces: [...ns, 'ns9', 'nsB'],
    hostLinks: ['br1', 'tap1_peer', 'tap2_peer', 'tap3_peer', 'tap4_peer', 'tap5_peer', 'vx1', 'mine', 'gone'],
    peers: { '': Object.fromEntries(ns.map((n, i) => [`tap${i + 1}_peer`, `${n}/tap${i + 1}`])) },
    ids: { ns: { ...Object.fromEntries(['ns1', 'ns2', 'ns3', 'ns4'].map((n) => [n, id(n)])), nsB: { ino: 7, mtime: '1.0' } } },
  };
  const files = { ...noProcesses, netns: () => [...ns, 'nsB', 'other'], procNetDev: () => procNetDev, nsId: (n: string) => (n === 'nsB' ? { ino: 7, mtime: '2.0' } : id(n)) };
  const r = await teardown(runner, j, { dryRun: true, files });
  assert.deepEqual(r.namespaces, ns, 'ns9 is gone already; "other" is not the lab\'s');
  assert.deepEqual(r.left, [
    { object: 'namespace nsB', why: 'it was re-created since this lab made it (marked netlab:b)' },
    { object: 'host interface mine', why: "alias 'someone else'" },
  ]);
  const reads = runner.calls.map((c) => c.argv.join(' ')).filter((c) => c.endsWith('show dev lo'));
  assert.deepEqual(
    reads,
    ['nsenter --net=/run/netns/ns5 ip -j link show dev lo', 'nsenter --net=/run/netns/nsB ip -j link show dev lo'],
    'only namespaces without their recorded identity have their mark read',
  );
  assert.deepEqual(r.commands, [
    [
      "ip -force -batch - <<'EOF'",
      'link set dev tap1_peer down',
      'link set dev tap4_peer down',
      'link set dev tap5_peer down',
      ...ns.map((n) => `netns del ${n}`),
      'link del dev vx1',
      'link del dev br1',
      'EOF',
    ].join('\n'),
  ]);
  assert.deepEqual(
    [...hostDevices(procNetDev)].map(([name, c]) => `${name} ${c.rxPackets}/${c.rxDropped}`),
    ['lo 58/0', 'tap1_peer 2/0', 'tap2_peer 0/0', 'tap3_peer 0/0', 'tap5_peer 0/3'],
  );
});

// ---------------------------------------------------------------------------------------------
// sysctls: a key validation could not check (it exists only in some namespaces, on some kernels)

const SYSCTL_LAB = `
name: sy
nodes:
  pod:
    sysctls:
      net.ipv4.ip_forward: 1
      net.core.rmem_max: 1048576
      net.ipv4.conf.eth0.proxy_arpp: 1
  peer:
links:
  - endpoints: [pod:eth0, peer:eth0]
host:
  sysctls:
    net.ipv4.neigh.default.gc_thresh3: 4096
`;

test('a sysctl missing where it is written fails apply naming the node, the key, the command, stderr and the cause', async () => {
  const { desired } = labOf(SYSCTL_LAB);
  const plan = diff(desired, emptyObserved(), undefined);
  const stderr = 'sysctl: cannot stat /proc/sys/net/ipv4/neigh/default/gc_thresh3: No such file or directory\n';
  const runner = new ScriptedRunner().on('sysctl -q -w', { exitCode: 1, stderr }).on('sh -c', { stdout: 'initial no\nmissing net/ipv4/neigh/default/gc_thresh3\n' });
  await assert.rejects(applyAll(runner, render(plan.actions), desired, newJournal('sy', '/x')), (e: unknown) => {
    assert.ok(e instanceof ApplyError);
    assert.equal(e.code, 3);
    assert.equal(e.object, 'host, sysctl net.ipv4.neigh.default.gc_thresh3');
    assert.equal(e.line, '/proc/sys/net/ipv4/neigh/default/gc_thresh3 does not exist in the network namespace netlab runs in');
    assert.match(e.text(), /^error: host, sysctl net\.ipv4\.neigh\.default\.gc_thresh3: command failed: .*\n {2}in: sysctl -q -w net\/ipv4\/neigh\/default\/gc_thresh3=4096\n {2}sysctl: cannot stat/);
    assert.match(
      e.text(),
      /hint: netlab runs in a network namespace other than the initial one here \(a container, a CI pod, unshare --net\), and some settings exist \(net\.ipv4\.neigh\.default\.\*, most of net\.core\.\*\) only in the initial one/,
    );
    assert.match(e.text(), /set it on the machine itself/);
    return true;
  });
});

test('sysctl refusals with exit 0 still fail; each key is told as what it is in the node (missing with a did-you-mean, read-only)', async () => {
  const { desired } = labOf(SYSCTL_LAB.replace(/host:\n.*\n.*\n$/, ''));
  // As if the node existed: every key has a previous value to set back.
  const actions = diff(desired, emptyObserved(), undefined).actions.map((a) => (a.kind === 'sysctl.set' ? { ...a, previous: '0' } : a));
  // procps-ng 4.0 exits 0 when a write is refused, 1 only when a key is missing.
  const stderr = 'sysctl: setting key "net.core.rmem_max": Invalid argument\nsysctl: cannot stat /proc/sys/net/ipv4/conf/eth0/proxy_arpp: No such file or directory\n';
  const runner = new ScriptedRunner().on('nsenter --net=/run/netns/pod sysctl -q -w', { exitCode: 0, stderr }).on('nsenter --net=/run/netns/pod sh -c', (argv) => {
    assert.deepEqual(argv.slice(-2), ['net/core/rmem_max', 'net/ipv4/conf/eth0/proxy_arpp']);
    return { stdout: 'initial no\nread-only net/core/rmem_max\nmissing net/ipv4/conf/eth0/proxy_arpp accept_local proxy_arp proxy_arp_pvlan rp_filter\n' };
  });
  await assert.rejects(applyAll(runner, render(actions), desired, newJournal('sy', '/x')), (e: unknown) => {
    assert.ok(e instanceof ApplyError);
    assert.equal(e.object, 'node pod, sysctls net.core.rmem_max, net.ipv4.conf.eth0.proxy_arpp');
    assert.equal(e.line, "in node pod's network namespace: net.core.rmem_max is read-only; net.ipv4.conf.eth0.proxy_arpp does not exist");
    assert.equal(
      e.hint,
      "net.ipv4.conf.eth0.proxy_arpp: did you mean 'proxy_arp'?; a node's network namespace is never the initial one, and some settings exist (net.ipv4.neigh.default.*, most of net.core.*) or may be changed (net.core.rmem_max, ...) only in the initial one, others only on some kernels or once a module is loaded: set them under 'host: sysctls:' when netlab runs on the machine itself, or drop them from the lab",
    );
    // What sysctl refused was not changed: only ip_forward is set back.
    assert.deepEqual(e.rollback?.commands, ['nsenter --net=/run/netns/pod sysctl -q -w net/ipv4/ip_forward=0']);
    return true;
  });
});

test('refusals map sysctl lines to keys in either spelling', () => {
  const a = (key: string) => ({ kind: 'sysctl.set' as const, ns: 'n', key, value: '1', object: 'node n', reason: '' });
  const acts = [a('net/ipv4/ip_forward'), a('net/ipv4/conf/eth0.100/rp_filter')];
  const r = refusals(acts, 'sysctl: setting key "net.ipv4.conf.eth0/100.rp_filter": Invalid argument\nsysctl: permission denied on key \'net.ipv4.ip_forward\'\n');
  assert.deepEqual(
    r.map((x) => x.action.key),
    ['net/ipv4/conf/eth0.100/rp_filter', 'net/ipv4/ip_forward'],
  );
  assert.equal(describeSysctlFailure(acts, 'sysctl: weird\n').object, 'node n, sysctl net.ipv4.ip_forward');
  // On the initial namespace a missing key is this kernel's: a typo, another version, a module.
  const onHost = [{ ...a('net/ipv4/conf/all/proxy_arpp'), ns: '', object: 'host' }];
  const f = describeSysctlFailure(
    onHost,
    'sysctl: cannot stat /proc/sys/net/ipv4/conf/all/proxy_arpp: No such file or directory',
    parseFacts('initial yes\nmissing net/ipv4/conf/all/proxy_arpp proxy_arp forwarding\n'),
  );
  assert.equal(f.hint, "net.ipv4.conf.all.proxy_arpp: did you mean 'proxy_arp'?; this kernel has no such setting: a typo, a setting of another kernel version, or of a module that is not loaded");
});

test('a failed ipset restore names its set and line, destroys the sets it had made, and journals only what stays', async () => {
  const y = `name: ap\nnodes:\n  ns1:\n    ipsets:\n      a: {type: hash:net, members: [10.1.0.0/16]}\n      b: {type: hash:ip, members: [10.0.0.9]}\n`;
  const { desired } = labOf(y);
  const plan = diff(desired, emptyObserved(), undefined);
  const runner = new ScriptedRunner().on('nsenter --net=/run/netns/ns1 ipset -exist restore', {
    exitCode: 1,
    stderr: 'ipset v7.17: Error in line 3: Kernel error received: set type not supported\n',
  });
  const j = newJournal('ap', '/x/lab.yaml');
  await assert.rejects(applyAll(runner, render(plan.actions), desired, j), (e: unknown) => {
    assert.ok(e instanceof ApplyError);
    assert.equal(e.object, 'ipset b in ns1');
    assert.equal(e.line, 'create b hash:ip family inet');
    assert.deepEqual(e.rollback?.commands, ["nsenter --net=/run/netns/ns1 ipset -exist restore <<'EOF'\ndestroy a\nEOF"]);
    return true;
  });
  assert.ok(!runner.calls.some((c) => c.argv.includes('iptables-restore')), 'the firewall phase did not start');
  assert.deepEqual(readJournal('ap')?.ipsets, { ns1: ['b'] }, 'a is gone again; b may exist (the journal claims, the next up reads)');
});

test('touched: a deleted veth or namespace takes its recorded peer end, and that namespace is touched too', () => {
  const { desired } = labOf(LAB);
  const j = newJournal('ap', '/x/ap.yaml');
  j.peers = { a: { eth0: 'b/eth0' }, c: { eth1: 'd/eth1', eth2: `${HOST}/c-port` }, e: { eth0: 'f/eth0' } };
  const actions = [
    { kind: 'link.del', ns: 'a', name: 'eth0' },
    { kind: 'netns.del', ns: 'c' },
  ].map((a) => ({ object: 'o', reason: 'r', ...a }) as Action);
  const applier = new Applier(new ScriptedRunner(), [{ phase: 'links', ns: 'a', argv: ['true'], lines: [], actions }], desired, j);
  assert.deepEqual([...applier.touched()].sort(), ['a', 'b', 'c', 'd', HOST].sort());
});
