// A plain `up` is a reset: trainees change a lab with the articles' own commands, and the next
// `up` reads every lab namespace and puts back what the file says. Runs in a private World, so
// the articles' names (ns1, tap1, br1) collide with nothing on the host.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot } from '../lib/host.js';
import { World } from '../lib/world.js';
import { everyRoute } from '../lib/fixtures.js';

const LAB = `
name: reset
nodes:
  ns1:
    routes:
      - 10.50.0.0/16 via 192.168.20.3
  ns2:
  ns3:
    routes:
      - local 10.50.0.0/16 dev lo       # ns3 answers for all of 10.50/16 (local table, no table given)
    sysctls:
      net.ipv4.ip_forward: 1
bridges:
  br1: {}
links:
  - endpoints: [ns1:tap1, br1:tap1_peer]
    addresses: {ns1: 192.168.20.1/24}
  - endpoints: [ns2:tap2, br1:tap2_peer]
    addresses: {ns2: 192.168.20.2/24}
  - endpoints: [ns3:tap3, br1:tap3_peer]
    addresses: {ns3: 192.168.20.3/24}
checks:
  - reach: {nodes: [ns1, ns2, ns3]}
  - ping: {from: ns1, to: 10.50.0.1}
`;

// Every route type netlab manages, in both families; a local route without a table included.
const ROUTES = everyRoute('routes', ['{to: 10.5.1.0/24, type: local, dev: lo}', '{to: 10.17.0.0/16, type: blackhole, table: local}']);

interface UpJson {
  changes: { text: string }[];
  read: string[];
  notRead: string[];
  applied: boolean;
  met: boolean;
}

describe('a plain up is a reset', { skip: isRoot ? false : 'needs root' }, () => {
  let w: World;
  let file: string;
  const plain = { CI: 'true' };
  const up = (...extra: string[]) => w.netlab(['up', file, ...extra], plain);
  const upJson = (...extra: string[]) => {
    const r = w.netlab(['up', file, '--json', ...extra]);
    return { code: r.code, doc: JSON.parse(r.stdout) as UpJson, stderr: r.stderr };
  };
  const hand = (script: string) => {
    const r = w.sh(script);
    assert.equal(r.code, 0, `${script}: ${r.stderr}`);
  };
  const BREAK = [
    'ip netns exec ns2 iptables -A INPUT -j DROP',
    'ip -n ns3 addr flush dev tap3',
    'ip -n ns1 route del 10.50.0.0/16',
    'ip -n ns1 link set tap1 down',
    'ip netns exec ns3 sysctl -qw net.ipv4.ip_forward=0',
  ].join(' && ');

  before(() => {
    w = World.create();
    file = join(w.dir, 'reset.yaml');
    writeFileSync(file, LAB);
    const r = up();
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
  after(() => w?.destroy());

  test('up after changes made by hand inside the namespaces repairs them all and lists them', () => {
    hand(BREAK);
    assert.equal(w.netlab(['check', file], plain).code, 4, 'the hand changes break the checks');
    const r = up();
    assert.equal(r.code, 0, `up did not repair the lab:\n${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stdout, /nothing to do/);
    for (const want of [
      /~\s+link ns1:tap1 up/,
      /\+\s+address 192\.168\.20\.3\/24 on ns3:tap3/,
      /\+\s+route 10\.50\.0\.0\/16 via 192\.168\.20\.3 in ns1/,
      /iptables table filter in ns2/,
      /sysctl net\.ipv4\.ip_forward = 1 in ns3/,
    ]) {
      assert.match(r.stdout, want, `up lists what it repaired:\n${r.stdout}`);
    }
    assert.match(r.stdout, /checks met/);
    const plan = w.netlab(['plan', file, '--detailed-exitcode']);
    assert.equal(plan.code, 0, `not converged:\n${plan.stdout}`);
    const again = up();
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /lab reset is up; nothing to do/);
    // A no-op up leaves the journal as it was (it already records every namespace as verified).
    const journal = join(w.stateDir, 'labs', 'reset.json');
    const before = statSync(journal).mtimeMs;
    assert.match(up('--no-checks').stdout, /nothing to do/);
    assert.equal(statSync(journal).mtimeMs, before, 'the journal was not rewritten');
  });

  test('--json says what was read: every lab namespace', () => {
    hand('ip -n ns2 link set tap2 down');
    const { code, doc } = upJson('--no-checks');
    assert.equal(code, 0);
    assert.deepEqual([doc.read.sort(), doc.notRead], [['ns1', 'ns2', 'ns3'], []]);
    assert.deepEqual(doc.changes.map((c) => c.text).filter((t) => /link ns2:tap2 up/.test(t)).length, 1, JSON.stringify(doc.changes));
    assert.equal(doc.applied, true);
  });

  test('up --trust-verified does not read the namespaces it verified (the documented trade-off); a plain up then repairs', () => {
    // The last test's up changed ns2: only a read that finds it as the file asks makes it verified.
    assert.match(up('--no-checks').stdout, /nothing to do/);
    hand('ip netns exec ns2 iptables -A INPUT -j DROP');
    const t = upJson('--trust-verified', '--no-checks');
    assert.equal(t.code, 0, t.stderr);
    assert.deepEqual([t.doc.changes.length, t.doc.read, t.doc.notRead.sort()], [0, [], ['ns1', 'ns2', 'ns3']]);
    const text = up('--trust-verified');
    assert.equal(text.code, 4, 'the drift stays, the checks fail');
    assert.doesNotMatch(text.stdout, /nothing to do/);
    assert.match(text.stdout, /3 namespaces not read \(--trust-verified\)/);
    const r = up();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /iptables table filter in ns2/);
  });

  test('every route type, a local route without a table included: no drift after up', () => {
    const f = join(w.dir, 'routes.yaml');
    writeFileSync(f, ROUTES);
    try {
      const r = w.netlab(['up', f], plain);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const plan = w.netlab(['plan', f, '--detailed-exitcode']);
      assert.equal(plan.code, 0, `drift right after up:\n${plan.stdout}${plan.stderr}`);
      assert.match(w.netlab(['up', f], plain).stdout, /nothing to do/);
      // The kernel filed them where ip route does: the local table for local routes without one.
      assert.match(w.sh('ip -n a route show table local').stdout, /local 10\.5\.0\.1 dev lo/);
    } finally {
      w.netlab(['down', 'routes']);
    }
  });
});
