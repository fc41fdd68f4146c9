import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bridgeGuards, firewallOf, guardsNeeded, sideKeys, sysctlSides } from '../../src/model/hoststate.js';
import { hostRuleActions } from '../../src/plan/diff.js';
import { hostRulesPayload } from '../../src/render/iptables.js';
import { HOST, type DesiredState, type HostRule } from '../../src/model/types.js';
import type { Action } from '../../src/plan/actions.js';

const tag = '-m comment --comment netlab:l';
const want = (spec: string, chain = 'INPUT'): HostRule => ({ family: 'ipv4', table: 'filter', chain, spec: `${spec} ${tag}` });
const show = (as: Action[]) => as.map((a) => (a.kind === 'hostipt.add' || a.kind === 'hostipt.del' ? `${a.kind} ${a.rule.chain} ${a.at ?? ''} ${a.rule.spec}`.replace(/ {2,}/g, ' ') : a.kind));

function kernel(rules: string[], chain = 'INPUT', hostBefore = 0): HostRule[] {
  return rules.map((spec, i) => ({ family: 'ipv4', table: 'filter', chain, spec, pos: hostBefore + i + 1 }));
}

test("host rules: the journal's saved forms match the kernel: nothing to do", () => {
  const w = [want('-s 10.0.0.1 -j ACCEPT'), want('-s 10.0.0.2 -j DROP')];
  const rec = w.map((r, i) => ({ ...r, saved: [`-s 10.0.0.1/32 ${tag} -j ACCEPT`, `-s 10.0.0.2/32 ${tag} -j DROP`][i]! }));
  assert.deepEqual(
    hostRuleActions(
      w,
      rec,
      kernel(
        rec.map((r) => r.saved),
        'INPUT',
        2,
      ),
    ),
    [],
  );
});

test('host rules: editing one rule deletes that one and inserts its new form in its place', () => {
  const old = [want('-s 10.0.0.1 -j ACCEPT'), want('-s 10.0.0.2 -j ACCEPT'), want('-s 10.0.0.3 -j DROP')];
  const forms = [`-s 10.0.0.1/32 ${tag} -j ACCEPT`, `-s 10.0.0.2/32 ${tag} -j ACCEPT`, `-s 10.0.0.3/32 ${tag} -j DROP`];
  const rec = old.map((r, i) => ({ ...r, saved: forms[i]! }));
  // The host has 2 rules of its own before the lab's.
  const have = kernel(forms, 'INPUT', 2);
  const w = [old[0]!, want('-s 10.0.0.9 -j ACCEPT'), old[2]!];
  assert.deepEqual(show(hostRuleActions(w, rec, have)), [
    `hostipt.del INPUT ${forms[1]}`,
    // 10.0.0.3 was at 5; after the deletion at 4: the new rule goes there, before it.
    `hostipt.add INPUT 4 -s 10.0.0.9 -j ACCEPT ${tag}`,
  ]);
});

test('host rules: a new last rule is appended; a stray tagged copy is deleted', () => {
  const w0 = want('-s 10.0.0.1 -j ACCEPT');
  const form = `-s 10.0.0.1/32 ${tag} -j ACCEPT`;
  const rec = [{ ...w0, saved: form }];
  const have = kernel([form, form]);
  assert.deepEqual(show(hostRuleActions([w0, want('-j DROP')], rec, have)), [`hostipt.del INPUT ${form}`, `hostipt.add INPUT -j DROP ${tag}`]);
});

test("host rules: the lab's rules of a chain in another order than the file's are re-made", () => {
  const a = want('-s 10.0.0.1 -j ACCEPT');
  const b = want('-s 10.0.0.2 -j ACCEPT');
  const fa = `-s 10.0.0.1/32 ${tag} -j ACCEPT`;
  const fb = `-s 10.0.0.2/32 ${tag} -j ACCEPT`;
  const rec = [
    { ...a, saved: fa },
    { ...b, saved: fb },
  ];
  const acts = hostRuleActions([a, b], rec, kernel([fb, fa]));
  assert.deepEqual(show(acts).filter((s) => s.startsWith('hostipt.del')).length, 2);
  assert.deepEqual(
    show(acts).filter((s) => s.startsWith('hostipt.add')),
    [`hostipt.add INPUT ${a.spec}`, `hostipt.add INPUT ${b.spec}`],
  );
});

test('host rules: a guard rule goes first in its chain', () => {
  const g: HostRule = { ...want('-i br1 -o br1 -j ACCEPT', 'DOCKER-USER'), first: true };
  const acts = hostRuleActions([g], [], []);
  assert.deepEqual(show(acts), [`hostipt.add DOCKER-USER 1 ${g.spec}`]);
  const a = acts[0]!;
  assert.equal(hostRulesPayload([{ ...(a.kind === 'hostipt.add' ? a.rule : g), at: 1 }], '-A'), `*filter\n-I DOCKER-USER 1 ${g.spec}\nCOMMIT\n`);
});

test("writing ip_forward rewrites every interface's forwarding: the keys to keep", () => {
  assert.ok(sysctlSides('net/ipv4/ip_forward')!.test('net/ipv4/conf/eth0/forwarding'));
  assert.ok(!sysctlSides('net/ipv4/ip_forward')!.test('net/ipv4/conf/all/forwarding'));
  assert.ok(sysctlSides('net/ipv6/conf/all/forwarding')!.test('net/ipv6/conf/default/forwarding'));
  assert.equal(sysctlSides('net/ipv4/conf/eth0/rp_filter'), undefined);
  assert.deepEqual(sideKeys('net/ipv4/ip_forward', ['lo', 'a.b']), ['net/ipv4/conf/default/forwarding', 'net/ipv4/conf/lo/forwarding', 'net/ipv4/conf/a.b/forwarding']);
  assert.deepEqual(sideKeys('net/core/somaxconn', ['lo']), []);
});

test('Docker-like firewall: guards per host bridge, in DOCKER-USER when it exists, else FORWARD', () => {
  const desired = {
    lab: 'l',
    namespaces: [],
    ns: new Map([
      [
        HOST,
        {
          links: new Map([
            ['br1', { name: 'br1', kind: 'bridge' }],
            ['v1', { name: 'v1', kind: 'veth' }],
          ]),
        },
      ],
    ]),
  } as unknown as DesiredState;
  const docker = firewallOf(':INPUT ACCEPT\n:FORWARD DROP\n:OUTPUT ACCEPT\n:DOCKER-USER - \n-A FORWARD -j DOCKER-USER', '1');
  assert.deepEqual(docker, { bridgeNf: true, dockerUser: true, forwardPolicy: 'DROP' });
  const plainDrop = firewallOf(':INPUT ACCEPT\n:FORWARD DROP\n:OUTPUT ACCEPT', '1');
  const g = bridgeGuards(desired, { ipv4: docker, ipv6: plainDrop });
  assert.deepEqual(
    g.rules.map((r) => `${r.family} ${r.chain} ${r.spec}`),
    ['ipv4 DOCKER-USER -i br1 -o br1 -j ACCEPT -m comment --comment netlab:l', 'ipv6 FORWARD -i br1 -o br1 -j ACCEPT -m comment --comment netlab:l'],
  );
  assert.match(g.notes[0]!, /FORWARD policy DROP and a DOCKER-USER chain, bridge-nf-call-iptables=1/);
  // Bridged traffic skips iptables, or nothing drops it: no guard.
  assert.equal(guardsNeeded(firewallOf(':FORWARD DROP', '0')), false);
  assert.equal(guardsNeeded(firewallOf(':FORWARD ACCEPT', '1')), false);
  assert.deepEqual(bridgeGuards(desired, { ipv4: firewallOf(':FORWARD ACCEPT', '1') }).rules, []);
});

test('observe on a Docker-like host: the firewall is read for a lab with a host bridge; a family without ip6tables is no error', async () => {
  const { ScriptedRunner } = await import('../lib/scripted-runner.js');
  const { observe } = await import('../../src/observe/observe.js');
  const { labOf, noProcesses, twoOnBridge } = await import('../lib/fixtures.js');
  const { diff } = await import('../../src/plan/diff.js');
  const r = new ScriptedRunner({ exitCode: 99, stderr: 'unexpected command' })
    .on('ip -j -d -batch -', { stdout: '[]\n' })
    .on('iptables-save', { stdout: '# Generated by iptables-save v1.8.9 (nf_tables)\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n' })
    .on('ip6tables-save', { exitCode: 127, stderr: 'ip6tables-save: not found' })
    .on('nft -j list chains', { stdout: '{"nftables": [{"metainfo": {}}, {"chain": {"family": "ip", "table": "filter", "name": "FORWARD"}}]}' });
  const { desired } = labOf(twoOnBridge('dk'));
  const nf = new Map([
    ['net/bridge/bridge-nf-call-iptables', '1'],
    ['net/bridge/bridge-nf-call-ip6tables', '1'],
  ]);
  const files = { netns: () => [], procNetDev: () => 'a\nb\n', ...noProcesses, sysctls: (keys: string[]) => new Map(keys.filter((k) => nf.has(k)).map((k) => [k, nf.get(k)!])) };
  const observed = await observe(r, desired, undefined, { files });
  assert.deepEqual(observed.hostFirewall, { ipv4: { bridgeNf: true, dockerUser: false, forwardPolicy: 'DROP' } });
  assert.deepEqual(observed.hostChains, { ipv4: ['filter/FORWARD'], ipv6: [] });
  const g = bridgeGuards(desired, observed.hostFirewall);
  desired.hostIptables.unshift(...g.rules);
  const adds = diff(desired, observed, undefined).actions.filter((a) => a.kind === 'hostipt.add');
  assert.deepEqual(show(adds), ['hostipt.add FORWARD 1 -i br1 -o br1 -j ACCEPT -m comment --comment netlab:dk']);
  assert.deepEqual(adds[0]!.kind === 'hostipt.add' && adds[0]!.chainsBefore, ['filter/FORWARD']);
});

test("a restore of ip_forward writes the interfaces' forwarding back right after it, in one sysctl", async () => {
  const { render } = await import('../../src/render/render.js');
  const { describe } = await import('../../src/plan/actions.js');
  const a: Action = {
    kind: 'sysctl.set',
    ns: HOST,
    key: 'net/ipv4/ip_forward',
    value: '0',
    restoreSides: { 'net/ipv4/conf/default/forwarding': '0', 'net/ipv4/conf/ubr/forwarding': '1' },
    object: 'host',
    reason: 'no longer in the lab file: restore',
  };
  const steps = render([a], 'l');
  assert.deepEqual(
    steps.map((s) => s.argv),
    [['sysctl', '-q', '-w', 'net/ipv4/ip_forward=0', 'net/ipv4/conf/default/forwarding=0', 'net/ipv4/conf/ubr/forwarding=1']],
  );
  assert.match(describe(a), /ip_forward = 0 in host, then net\.ipv4\.conf\.default\.forwarding = 0, net\.ipv4\.conf\.ubr\.forwarding = 1 \(the kernel resets them\)/);
});
