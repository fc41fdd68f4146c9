// The host after `down` is exactly the host before `up`, on a host with state of its own (a user
// bridge with an address, ip_forward=0 with forwarding=1 on one interface, filter tables with rules
// of their own, a Docker-like firewall); and on a Docker-like host, labs on host bridges work.
// Everything runs in a World (a private network and mount namespace), never on the real host.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, uid } from '../lib/host.js';
import { World } from '../lib/world.js';
import { compare, type Snapshot } from '../lib/snapshot.js';

/** The world's host namespace as text, every net sysctl included: what must be byte-identical before up and after down. */
const snap = (w: World) => w.snapshot({ everySysctl: true });
const diffSnaps = (a: Snapshot, b: Snapshot) => compare(a, b).join('\n');

function must(w: World, script: string): string {
  const r = w.sh(`set -e\n${script}`);
  assert.equal(r.code, 0, `${script}\n${r.stderr}`);
  return r.stdout;
}

const lines = (text: string, re: RegExp) => text.split('\n').filter((l) => re.test(l));

describe('host state: down restores the host exactly', { skip: !isRoot && 'needs root' }, () => {
  let w: World;
  const p = uid();
  const lab = `hs-${p}`;
  const file = () => join(w.dir, `${lab}.yaml`);
  const body = (second: string, sysctls = true) => `name: ${lab}
nodes:
  ${p}a: {}
  ${p}b: {}
bridges:
  ${p}br: {}
links:
  - endpoints: [${p}a:eth0, ${p}br:${p}pa]
    addresses: {${p}a: 192.168.50.1/24}
  - endpoints: [${p}b:eth0, ${p}br:${p}pb]
    addresses: {${p}b: 192.168.50.2/24}
host:
${sysctls ? '  sysctls:\n    net.ipv4.ip_forward: 1\n    net.ipv6.conf.all.forwarding: 1\n' : ''}  iptables:
    filter:
      FORWARD:
        - '-i ${p}br -o ${p}br -j ACCEPT'
        - '${second}'
        - '-s 192.168.50.3 -m comment --comment "third rule" -j ACCEPT'
      INPUT: ['-s 192.168.50.9 -j DROP']
  ip6tables:
    filter:
      FORWARD: ['-s 2001:db8:50::1 -m comment --comment "own v6 comment" -j ACCEPT']
checks:
  - ping: {from: ${p}a, to: 192.168.50.2}
`;
  before(() => {
    w = World.create();
    // The host's own state: a user bridge with an address and forwarding=1 while ip_forward=0,
    // filter tables with rules (INPUT only: FORWARD does not exist in nft until a rule needs it),
    // a rule and route of its own, ipv6 likewise.
    must(
      w,
      `ip link add ubr type bridge; ip addr add 10.99.0.1/24 dev ubr; ip link set ubr up
sysctl -qw net.ipv4.ip_forward=0 net.ipv4.conf.ubr.forwarding=1 net.ipv6.conf.ubr.forwarding=1
ip rule add from 10.97.0.0/24 table 100; ip route add 10.97.0.0/24 dev ubr table 100
iptables -A INPUT -s 10.98.0.1 -m comment --comment "the host's own" -j ACCEPT
ip6tables -A INPUT -s 2001:db8:98::1 -j ACCEPT
# The bridge's link-local address leaves DAD (tentative) on its own: wait, or the snapshot moves.
for i in $(seq 50); do [ -z "$(ip -6 addr show tentative)" ] && break; sleep 0.1; done
[ -z "$(ip -6 addr show tentative)" ]`,
    );
  });
  after(() => w?.destroy());

  test('up, plan converges, an edit of one host rule touches only it, down leaves the host byte-identical', () => {
    const snapBefore = snap(w);
    assert.match(snapBefore.nft, /chain INPUT/);
    assert.doesNotMatch(snapBefore.nft, /chain FORWARD/, 'the host has no FORWARD chain before up');
    assert.match(snapBefore.sysctls!, /net\.ipv4\.conf\.ubr\.forwarding = 1/);
    writeFileSync(file(), body('-s 192.168.50.1 -m comment --comment "own comment" -j ACCEPT'));
    const up = w.netlab(['up', file()]);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const plan = w.netlab(['plan', '--detailed-exitcode', file()]);
    assert.equal(plan.code, 0, `plan after up must be empty:\n${plan.stdout}${plan.stderr}`);
    const up2 = w.netlab(['up', file()]);
    assert.equal(up2.code, 0, up2.stderr);
    const save = must(w, 'iptables-save -t filter');
    assert.equal(lines(save, /own comment/).length, 1, `the rule with its own comment is there once:\n${save}`);
    assert.equal(lines(must(w, 'ip6tables-save -t filter'), /own v6 comment/).length, 1);

    // Edit the middle rule: the plan deletes that one and inserts the new one in its place.
    writeFileSync(file(), body('-s 192.168.50.7 -j ACCEPT'));
    const edit = w.netlab(['plan', file()]);
    const changes = lines(edit.stdout, /^\s+[-+~]/);
    assert.equal(changes.length, 2, edit.stdout);
    assert.match(changes.join('\n'), /- .*192\.168\.50\.1\/32.*own comment/);
    assert.match(changes.join('\n'), /\+ .*-s 192\.168\.50\.7 -j ACCEPT/);
    const upEdit = w.netlab(['up', file()]);
    assert.equal(upEdit.code, 0, upEdit.stderr);
    const fwd = lines(must(w, 'iptables-save -t filter'), /^-A FORWARD/);
    assert.deepEqual(
      fwd.map((l) => (/-i \S+br -o/.test(l) ? 'bridge' : /50\.7/.test(l) ? 'edited' : /third rule/.test(l) ? 'third' : l)),
      ['bridge', 'edited', 'third'],
      'the edited rule sits where the file has it',
    );
    assert.equal(w.netlab(['plan', '--detailed-exitcode', file()]).code, 0);
    assert.match(must(w, 'sysctl -n net.ipv4.ip_forward'), /^1/);

    // The file stops setting the host sysctls: up restores them, and the interfaces' forwarding
    // that writing them reset.
    writeFileSync(file(), body('-s 192.168.50.7 -j ACCEPT', false));
    const unset = w.netlab(['up', file()]);
    assert.equal(unset.code, 0, unset.stderr);
    assert.equal(must(w, 'sysctl -n net.ipv4.ip_forward net.ipv4.conf.ubr.forwarding net.ipv6.conf.all.forwarding net.ipv6.conf.ubr.forwarding'), '0\n1\n0\n1\n');
    assert.equal(w.netlab(['plan', '--detailed-exitcode', file()]).code, 0);
    writeFileSync(file(), body('-s 192.168.50.7 -j ACCEPT'));
    assert.equal(w.netlab(['up', file()]).code, 0);
    assert.equal(must(w, 'sysctl -n net.ipv4.ip_forward net.ipv4.conf.ubr.forwarding'), '1\n1\n');

    const down = w.netlab(['down', lab]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(diffSnaps(snapBefore, snap(w)), '', 'the host after down is the host before up');
  });
});

describe('Docker-like host: bridged traffic goes through iptables FORWARD', { skip: !isRoot && 'needs root' }, () => {
  let w: World;
  const p = uid();
  const lab = `dk-${p}`;
  const file = () => join(w.dir, `${lab}.yaml`);
  let skip = '';
  before(() => {
    w = World.create();
    // What Docker leaves: FORWARD policy DROP, a DOCKER-USER chain jumped to first (ending in
    // RETURN, as older Docker versions make it), bridge-nf-call-iptables=1 (br_netfilter); ipv6 drops too.
    const nf = w.sh('sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1');
    if (nf.code !== 0) skip = `br_netfilter is not available in a private network namespace here: ${nf.stderr.trim()}`;
    must(
      w,
      `iptables -N DOCKER-USER; iptables -A DOCKER-USER -j RETURN; iptables -A FORWARD -j DOCKER-USER; iptables -P FORWARD DROP
ip6tables -P FORWARD DROP`,
    );
    writeFileSync(
      file(),
      `name: ${lab}
nodes:
  ${p}1: {}
  ${p}2: {}
  ${p}3: {}
bridges:
  ${p}br: {}
links:
  - endpoints: [${p}1:tap1, ${p}br:${p}t1]
    addresses: {${p}1: 192.168.20.1/24}
  - endpoints: [${p}2:tap2, ${p}br:${p}t2]
    addresses: {${p}2: 192.168.20.2/24}
  - endpoints: [${p}3:tap3, ${p}br:${p}t3]
    addresses: {${p}3: 192.168.20.3/24}
checks:
  - reach: {nodes: [${p}1, ${p}2, ${p}3]}
  - ping: {from: ${p}1, to: 192.168.20.99, expect: fail}
`,
    );
  });
  after(() => w?.destroy());

  test('doctor names the condition and what netlab will do', (t) => {
    if (skip) return t.skip(skip);
    const r = w.netlab(['doctor']);
    assert.match(
      r.stdout,
      /note: iptables: FORWARD policy DROP and a DOCKER-USER chain, bridge-nf-call-iptables=1 \(Docker-like firewall\): bridged traffic goes through iptables FORWARD.*DOCKER-USER/,
    );
    assert.match(r.stdout, /note: ip6tables: FORWARD policy DROP, bridge-nf-call-ip6tables=1/);
  });

  test('up adds one tagged accept rule per host bridge, the checks pass, down removes it: the host is as before', (t) => {
    if (skip) return t.skip(skip);
    const snapBefore = snap(w);
    const up = w.netlab(['up', file()]);
    assert.equal(up.code, 0, `${up.stdout}${up.stderr}`);
    assert.match(up.stderr, /note: iptables: FORWARD policy DROP and a DOCKER-USER chain.*DOCKER-USER/);
    const save = must(w, 'iptables-save -t filter');
    const du = lines(save, /^-A DOCKER-USER/);
    assert.equal(du.length, 2, save);
    assert.match(du[0]!, new RegExp(`^-A DOCKER-USER -i ${p}br -o ${p}br .*netlab:${lab}.* -j ACCEPT$`), 'first, before RETURN');
    assert.equal(lines(must(w, 'ip6tables-save -t filter'), new RegExp(`^-A FORWARD -i ${p}br -o ${p}br .*netlab:${lab}`)).length, 1);
    assert.equal(w.netlab(['plan', '--detailed-exitcode', file()]).code, 0);

    // trace shows the hop: the host's DOCKER-USER accepted the bridged packet.
    const tr = w.netlab(['trace', file(), '--from', `${p}1`, '--to', '192.168.20.2']);
    assert.equal(tr.code, 0, `${tr.stdout}${tr.stderr}`);
    assert.match(tr.stdout, /^\s+host namespace/m, tr.stdout);
    assert.match(tr.stdout, /FORWARD\s+filter\/DOCKER-USER\s+accept/, tr.stdout);
    assert.match(tr.stdout, /delivered locally/, tr.stdout);

    // Without the rule, the traffic is dropped (the condition is real): up puts it back.
    must(w, `iptables -D DOCKER-USER -i ${p}br -o ${p}br -m comment --comment netlab:${lab} -j ACCEPT`);
    assert.notEqual(w.run('ip', ['netns', 'exec', `${p}1`, 'ping', '-c', '1', '-W', '1', '192.168.20.2']).code, 0, 'dropped in FORWARD without the rule');
    const check = w.netlab(['check', file()]);
    assert.notEqual(check.code, 0, 'the checks fail without the rule');
    const again = w.netlab(['up', file()]);
    assert.equal(again.code, 0, `${again.stdout}${again.stderr}`);
    assert.equal(lines(must(w, 'iptables-save -t filter'), /^-A DOCKER-USER -i/).length, 1);

    const down = w.netlab(['down', lab]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(diffSnaps(snapBefore, snap(w)), '', 'the host after down is the host before up');
  });
});
