// ipsets, pure: members as `ipset save` prints them, what a save says, and the plan for sets:
// created before the rules, members changed in place, re-created around the rules that use them,
// destroyed after the rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalMember, parseIpsetSave, setsOf, withoutSetRules } from '../../src/model/ipset.js';
import { diff } from '../../src/plan/diff.js';
import { describe as line, phaseOf } from '../../src/plan/actions.js';
import { render } from '../../src/render/render.js';
import { applied, emptyObserved, labOf } from '../lib/fixtures.js';

test('members are checked for their set type and kept as ipset save prints them', () => {
  const ok = (type: 'hash:net' | 'hash:ip' | 'hash:ip,port', text: string) => {
    const m = canonicalMember(type, text);
    assert.ok(!('error' in m), `${type} ${text}: ${'error' in m ? m.error : ''}`);
    return 'value' in m ? m.value : '';
  };
  assert.equal(ok('hash:net', '10.65.0.0/16'), '10.65.0.0/16');
  assert.equal(ok('hash:net', '10.65.1.10/32'), '10.65.1.10');
  assert.equal(ok('hash:net', '2001:DB8:0::/32'), '2001:db8::/32');
  assert.equal(ok('hash:net', '2001:db8::1/128'), '2001:db8::1');
  assert.equal(ok('hash:ip', '10.0.0.9'), '10.0.0.9');
  assert.equal(ok('hash:ip', '10.0.0.9/32'), '10.0.0.9');
  assert.equal(ok('hash:ip,port', '10.0.0.1,80'), '10.0.0.1,tcp:80');
  assert.equal(ok('hash:ip,port', '10.0.0.2,udp:53'), '10.0.0.2,udp:53');
  const bad = (type: 'hash:net' | 'hash:ip' | 'hash:ip,port', text: string) => {
    const m = canonicalMember(type, text);
    return 'error' in m ? `${m.error} | ${m.hint}` : 'accepted';
  };
  assert.match(bad('hash:net', '10.1.2.3/24'), /host bits set \| did you mean 10\.1\.2\.0\/24\?/);
  assert.match(bad('hash:net', '0.0.0.0/0'), /cannot hold a \/0/);
  assert.match(bad('hash:net', 'example.com'), /not an address or a network/);
  assert.match(bad('hash:ip', '10.0.0.0/24'), /is a network.*\| use type hash:net/);
  assert.match(bad('hash:ip,port', '10.0.0.1'), /not ADDRESS,PORT/);
  assert.match(bad('hash:ip,port', '10.0.0.1,icmp:8'), /unknown protocol 'icmp'/);
  assert.match(bad('hash:ip,port', '10.0.0.1,70000'), /out of range/);
});

test('ipset save: sets by name with type, family and members', () => {
  const s = parseIpsetSave(
    [
      'create a hash:net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1',
      'add a 10.66.0.0/16',
      'add a 10.65.0.0/16',
      'create six hash:net family inet6 hashsize 1024 maxelem 65536 bucketsize 12 initval 0x2',
      'add six 2001:db8::/32',
      'create p hash:ip,port family inet hashsize 1024 maxelem 65536',
      'add p 10.0.0.1,tcp:80 timeout 0',
      '',
    ].join('\n'),
  );
  assert.deepEqual(
    [...s.values()],
    [
      { name: 'a', type: 'hash:net', family: 'ipv4', members: ['10.65.0.0/16', '10.66.0.0/16'] },
      { name: 'six', type: 'hash:net', family: 'ipv6', members: ['2001:db8::/32'] },
      { name: 'p', type: 'hash:ip,port', family: 'ipv4', members: ['10.0.0.1,tcp:80'] },
    ],
  );
  assert.deepEqual(parseIpsetSave(''), new Map());
});

test('the sets a rule names, and a table without the rules that name some', () => {
  assert.deepEqual(
    setsOf('-m set --match-set masq src -m set ! --match-set all dst -j MASQUERADE'.split(' ')).map((s) => [s.name, s.flags]),
    [
      ['masq', 'src'],
      ['all', 'dst'],
    ],
  );
  assert.deepEqual(
    setsOf('-j SET --add-set seen src'.split(' ')).map((s) => s.name),
    ['seen'],
  );
  const saved = [':POSTROUTING ACCEPT', ':x -', '-A POSTROUTING -j x', '-A x -m set --match-set masq src -j MASQUERADE', '-A x -s 10.0.0.1 -j RETURN'].join('\n');
  assert.equal(withoutSetRules('nat', saved, new Set(['masq'])), '*nat\n:POSTROUTING ACCEPT\n:x -\n-A POSTROUTING -j x\n-A x -s 10.0.0.1 -j RETURN\nCOMMIT\n');
});

const LAB = `name: s
nodes:
  a:
    ipsets:
      masq: {type: hash:net, members: [10.65.0.0/16]}
      all: {type: hash:net, members: [10.65.0.0/16, 10.66.0.0/16]}
    iptables:
      nat:
        POSTROUTING:
          - -m set --match-set masq src -m set ! --match-set all dst -j MASQUERADE
      filter:
        INPUT: [-s 10.0.0.1 -j DROP]
`;

const plan = (yaml: string, mutate?: (o: ReturnType<typeof applied>) => void, from?: string) => {
  const { desired } = labOf(yaml);
  const base = applied(labOf(from ?? yaml).desired);
  mutate?.(base);
  return diff(desired, base.observed, base.journal);
};

test('a fresh lab makes its sets in the ipsets phase, before the firewall phase restores the rules', () => {
  const { desired } = labOf(LAB);
  const p = diff(desired, emptyObserved(), undefined);
  const sets = p.actions.filter((a) => a.kind.startsWith('ipset.') || a.kind === 'iptables.restore');
  assert.deepEqual(
    sets.map((a) => `${phaseOf(a)}: ${line(a)}`),
    [
      'ipsets: +   ipset masq hash:net in a (1 member)  (not created yet)',
      'ipsets: +   ipset all hash:net in a (2 members)  (not created yet)',
      'firewall: ~   iptables table filter in a (1 rule)  (not applied yet)',
      'firewall: ~   iptables table nat in a (1 rule)  (not applied yet)',
    ],
  );
  const step = render(p.actions).find((s) => s.argv.includes('ipset'))!;
  assert.deepEqual(step.argv, ['nsenter', '--net=/run/netns/a', 'ipset', '-exist', 'restore']);
  assert.equal(step.input, 'create masq hash:net family inet\nadd masq 10.65.0.0/16\ncreate all hash:net family inet\nadd all 10.65.0.0/16\nadd all 10.66.0.0/16\n');
  assert.equal(step.lines.length, 5, 'each line maps back to its action (ipset says "Error in line N")');
});

test('applied sets: nothing to do', () => {
  assert.deepEqual(plan(LAB).actions.map(line), []);
});

test('members changed in the file or by hand are added and deleted in place: no flush, no re-create, rules untouched', () => {
  const edited = plan(LAB.replace('10.66.0.0/16', '10.67.0.0/16'), undefined, LAB);
  assert.deepEqual(edited.actions.map(line), ['~   ipset all in a: +10.67.0.0/16 -10.66.0.0/16  (members differ from the lab file)']);
  assert.equal(render(edited.actions)[0]!.input, 'del all 10.66.0.0/16\nadd all 10.67.0.0/16\n');
  const drift = plan(LAB, (b) => {
    b.observed.ns.get('a')!.ipsets!.get('masq')!.members = ['10.65.0.0/16', '192.0.2.1'];
  });
  assert.deepEqual(drift.actions.map(line), ['~   ipset masq in a: -192.0.2.1  (members differ from the lab file)']);
});

test('a set whose type changes is re-created: the rules naming it go out first (unhook) and come back in the firewall phase', () => {
  const p = plan(LAB, (b) => {
    b.observed.ns.get('a')!.ipsets!.get('all')!.type = 'hash:ip';
  });
  assert.deepEqual(
    p.actions.map((a) => `${phaseOf(a)}: ${line(a)}`),
    [
      'unhook: ~   iptables table nat in a without the rules that use ipset all  (ipset all is re-created: the rules come back after)',
      'ipsets: -/+ ipset all in a  (is hash:ip, the lab file says hash:net: re-created)',
      'ipsets: -/+ ipset all hash:net in a (2 members)  (is hash:ip, the lab file says hash:net: re-created)',
      'firewall: ~   iptables table nat in a (1 rule)  (put back around the re-created ipset all)',
    ],
  );
  const steps = render(p.actions);
  assert.equal(steps[0]!.input, '*nat\n:PREROUTING ACCEPT\n:INPUT ACCEPT\n:OUTPUT ACCEPT\n:POSTROUTING ACCEPT\nCOMMIT\n');
  assert.equal(steps[1]!.input, 'destroy all\ncreate all hash:net family inet\nadd all 10.65.0.0/16\nadd all 10.66.0.0/16\n');
});

test('a set taken out of the file is destroyed after the rules; one made by hand is drift', () => {
  const without = LAB.replace(/ {6}all: .*\n/, '').replace(' -m set ! --match-set all dst', '');
  const p = plan(without, undefined, LAB);
  assert.deepEqual(
    p.actions.map((a) => `${phaseOf(a)}: ${line(a)}`),
    ['firewall: ~   iptables table nat in a (1 rule)  (rules changed in the lab file)', 'unused-ipsets: -   ipset all in a  (no longer in the lab file)'],
  );
  const hand = plan(LAB, (b) => {
    b.observed.ns.get('a')!.ipsets!.set('mine', { name: 'mine', type: 'hash:ip', family: 'ipv4', members: [] });
  });
  assert.deepEqual(hand.actions.map(line), ['-   ipset mine in a  (made by hand (drift))']);
});
