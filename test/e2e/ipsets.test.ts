// ipsets on the real kernel: made before the rules that use them, members drifted by hand repaired
// in place (no flush, no destroy), a set whose type changes re-created with its rules taken out
// and put back around it, sets the lab drops (or someone made by hand) destroyed after the rules,
// and `down` leaves none; a rule naming an undeclared set fails validation and makes nothing.
// Then experiment 11's guided lab (labs/calico-marks.yaml) walks through its steps in a World.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LABS, netlab, netnsList, ping, removeExact, sh, stateDir, tryRun, uid } from '../lib/host.js';
import { World } from '../lib/world.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };
const p = uid();
const lab = `ips-${p}`;
const file = join(state.dir, 'lab.yaml');
const [a, b] = [`${p}a`, `${p}b`];

/** Node a drops what comes from the `blocked` set; `ports` and `six` only exist (canonical forms). */
function write(opts: { type?: string; members?: string[]; sets?: boolean }) {
  const o = { type: 'hash:net', members: ['10.81.0.2', '10.82.0.0/16'], sets: true, ...opts };
  const lines = [
    `name: ${lab}`,
    'nodes:',
    `  ${a}:`,
    ...(o.sets
      ? [
          '    ipsets:',
          `      blocked: {type: "${o.type}", members: [${o.members.join(', ')}]}`,
          '      ports: {type: "hash:ip,port", members: ["10.81.0.2,80", "10.81.0.2,udp:53"]}',
          '      six: {type: hash:net, members: ["2001:DB8:0::/32", "2001:db8:1::1/128"]}',
          '    iptables:',
          '      filter:',
          '        INPUT:',
          '          - -m set --match-set blocked src -j DROP',
          '          - -p tcp -m set --match-set ports src,dst -j ACCEPT',
          '    ip6tables:',
          '      filter:',
          '        INPUT: [-m set --match-set six src -j DROP]',
        ]
      : []),
    `  ${b}:`,
    'links:',
    `  - endpoints: [${a}:eth0, ${b}:eth0]`,
    `    addresses: {${a}: 10.81.0.1/24, ${b}: 10.81.0.2/24}`,
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
}

const inA = (...args: string[]) => sh('nsenter', [`--net=/run/netns/${a}`, ...args]);
const sets = () => inA('ipset', 'save');

function plan(): string {
  const r = netlab(['plan', file, '--commands'], env);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

function upOk() {
  const u = netlab(['up', file], env);
  assert.equal(u.code, 0, `${u.stdout}${u.stderr}`);
  const again = netlab(['plan', file, '--detailed-exitcode'], env);
  assert.equal(again.code, 0, `not converged after up:\n${again.stdout}${again.stderr}`);
}

describe('ipsets on the real kernel', () => {
  after(() => {
    netlab(['down', lab], env);
    removeExact([a, b]);
    state.cleanup();
  });

  test('a rule naming an undeclared set fails validation with its line and column, and up makes nothing', () => {
    write({});
    const text = `${sh('cat', [file])}`.replace('--match-set blocked src', '--match-set blokced src');
    writeFileSync(file, text);
    const v = netlab(['validate', file], env);
    assert.equal(v.code, 2, v.stdout + v.stderr);
    assert.match(v.stderr, /lab\.yaml:11:13: error: nodes\.\S+\.iptables\.filter\.INPUT\[0\]: rule names ipset 'blokced', which this node does not declare\n {2}hint: did you mean 'blocked'\?/);
    const u = netlab(['up', file], env);
    assert.equal(u.code, 2);
    assert.ok(!netnsList().includes(a), 'up made nothing');
  });

  test('up makes the sets before the rules that use them; a no-op up reads them and changes nothing', () => {
    write({});
    upOk();
    const s = sets();
    assert.match(s, /^create blocked hash:net family inet /m);
    assert.match(s, /^add blocked 10\.81\.0\.2$/m);
    assert.match(s, /^add ports 10\.81\.0\.2,tcp:80$/m);
    assert.match(s, /^create six hash:net family inet6 /m);
    assert.match(inA('iptables-save'), /-A INPUT -m set --match-set blocked src -j DROP/);
    assert.equal(ping(b, '10.81.0.1'), false, "a drops b's packets: b's address is in blocked");
    const again = netlab(['up', file, '--no-checks'], env);
    assert.match(again.stdout, /nothing to do/);
  });

  test('members changed by hand are repaired in place: added and deleted one by one, the set never flushed', () => {
    inA('ipset', 'del', 'blocked', '10.81.0.2');
    inA('ipset', 'add', 'blocked', '10.99.0.0/16');
    assert.ok(ping(b, '10.81.0.1'), 'without its member the rule lets b in');
    const pl = plan();
    assert.match(pl, /~ {3}ipset blocked in \S+: \+10\.81\.0\.2 -10\.99\.0\.0\/16 {2}\(members differ from the lab file\)/);
    assert.match(pl, /ipset -exist restore <<'EOF'\ndel blocked 10\.99\.0\.0\/16\nadd blocked 10\.81\.0\.2\nEOF/);
    assert.doesNotMatch(pl, /flush|destroy|iptables-restore/, 'only the members change');
    upOk();
    assert.doesNotMatch(sets(), /10\.99\.0\.0/);
    assert.equal(ping(b, '10.81.0.1'), false, 'the member is back: b is dropped again');
  });

  test('a set whose type changes is re-created: the rules that use it go out before and come back after', () => {
    write({ type: 'hash:ip', members: ['10.81.0.2'] });
    const pl = plan();
    assert.match(pl, /~ {3}iptables table filter in \S+ without the rules that use ipset blocked {2}\(ipset blocked is re-created: the rules come back after\)/);
    assert.match(pl, /-\/\+ ipset blocked in \S+ {2}\(is hash:net, the lab file says hash:ip: re-created\)/);
    assert.match(pl, /~ {3}iptables table filter in \S+ \(2 rules\) {2}\(put back around the re-created ipset blocked\)/);
    // The unhooked table keeps the other rules (ports) and loses only blocked's.
    const unhook = /iptables-restore -w <<'EOF'\n(\*filter\n[\s\S]*?COMMIT)\n/.exec(pl)?.[1] ?? '';
    assert.match(unhook, /--match-set ports src,dst/);
    assert.doesNotMatch(unhook, /--match-set blocked/);
    upOk();
    assert.match(sets(), /^create blocked hash:ip family inet /m);
    assert.match(inA('iptables-save'), /-A INPUT -m set --match-set blocked src -j DROP/);
    assert.equal(ping(b, '10.81.0.1'), false, 'the re-created set still drops b');
  });

  test('a set made by hand in a lab namespace goes; sets taken out of the file are destroyed after their rules', () => {
    inA('ipset', 'create', `${p}x`, 'hash:ip');
    assert.match(plan(), new RegExp(`- {3}ipset ${p}x in \\S+ {2}\\(made by hand \\(drift\\)\\)`));
    upOk();
    assert.doesNotMatch(sets(), new RegExp(`${p}x`));
    write({ sets: false });
    const pl = plan();
    // The firewall phase (the rules) comes before the sets go.
    assert.ok(pl.indexOf('iptables-restore') < pl.indexOf('destroy blocked'), pl);
    upOk();
    assert.equal(sets().trim(), '');
    assert.ok(ping(b, '10.81.0.1'), 'no rule, no set: b gets in');
  });

  test('down removes the sets with the namespaces they live in', () => {
    write({});
    upOk();
    assert.match(sets(), /^create blocked /m);
    const d = netlab(['down', lab], env);
    assert.equal(d.code, 0, d.stderr);
    assert.ok(!netnsList().includes(a));
    assert.equal(tryRun('nsenter', [`--net=/run/netns/${a}`, 'ipset', 'save']).code === 0, false);
  });
});

describe('labs/calico-marks.yaml: netlab steps, in a World', () => {
  test('every step of experiment 11 meets its expectations (exit 0)', () => {
    const w = World.create();
    try {
      const r = w.netlab(['steps', join(LABS, 'calico-marks.yaml')]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /✔ 8\/8 steps met/);
      assert.match(r.stdout, /\[node1\]\$ iptables -t raw -D cali-PREROUTING -i cali\+ -j MARK --set-xmark 0x40000\/0x40000 {2}\(exit 0\)/);
      w.netlab(['down', 'calico-marks']);
    } finally {
      w.destroy();
    }
  });
});
