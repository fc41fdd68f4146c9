// netlab counters and netlab conntrack on the real kernel: the DROP rule of iptables-drop counts
// the probe it drops, and a NAT router lists the connection it masqueraded.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LABS, ROOT, netlab, stateDir } from '../lib/host.js';
import { compare, snapshot, type Snapshot } from '../lib/snapshot.js';
import type { CountersResult, ConntrackResult } from '../../src/engine/counters.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };

function withLab(file: string, name: string, body: () => void): void {
  const up = netlab(['up', file, '--no-checks'], env);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  try {
    body();
  } finally {
    const down = netlab(['down', name], env);
    assert.equal(down.code, 0, down.stdout + down.stderr);
  }
}

describe('counters and conntrack on the real kernel', () => {
  let hostBefore: Snapshot;
  before(() => {
    hostBefore = snapshot();
  });
  after(() => state.cleanup());

  test("iptables-drop: the DROP rule's counters, and the probe it dropped as +1 packet", () => {
    withLab(join(LABS, 'iptables-drop.yaml'), 'iptables-drop', () => {
      const all = netlab(['counters', 'iptables-drop', 'c1'], env);
      assert.equal(all.code, 0, all.stderr);
      assert.match(all.stdout, /^iptables -t filter\n {2}chain INPUT {2}policy ACCEPT: \d+ packets, \d+ bytes\n/);
      assert.match(all.stdout, /\n {4}1 +\d+ +\d+ {2}-s 172\.17\.0\.1\/32 -j DROP\n/);

      const probe = ['counters', 'iptables-drop', 'c1', 'filter', '--probe', '--from', 'docker-host', '--to', '172.17.0.2'];
      const j = netlab([...probe, '--json'], env);
      assert.equal(j.code, 0, j.stderr);
      const r = JSON.parse(j.stdout) as CountersResult;
      assert.equal(r.probe?.ok, false, 'the gateway gets no answer');
      assert.match(r.probe!.command, /ip netns exec docker-host ping .* 172\.17\.0\.2$/);
      const input = r.chains.find((c) => c.source === 'iptables' && c.table === 'filter' && c.chain === 'INPUT');
      assert.ok(input, `INPUT did not change: ${j.stdout}`);
      assert.deepEqual(
        input.rules.map((x) => [x.num, x.rule, x.packets, x.bytes]),
        [[1, '-s 172.17.0.1/32 -j DROP', 1, 84]],
        'one echo request of 84 bytes, dropped',
      );
      assert.equal(input.policy, undefined, 'nothing reached the policy');

      const plain = netlab(probe, env);
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stdout, /^probe icmp docker-host -> 172\.17\.0\.2: not answered\ncounters that changed in c1:\niptables -t filter\n {2}chain INPUT\n/);
      assert.match(plain.stdout, /\n {4}1 +\+1 +\+84 {2}-s 172\.17\.0\.1\/32 -j DROP\n/);

      // The lab's file names it as well as its name; usage errors say what to add.
      const byFile = netlab(['counters', join(LABS, 'iptables-drop.yaml'), 'c1', 'filter', '--json'], env);
      assert.equal(byFile.code, 0, byFile.stderr);
      assert.equal((JSON.parse(byFile.stdout) as CountersResult).chains[0]!.rules[0]!.rule, '-s 172.17.0.1/32 -j DROP');
      const noProbe = netlab(['counters', 'iptables-drop', 'c1', '--to', '172.17.0.2'], env);
      assert.equal(noProbe.code, 1);
      assert.match(noProbe.stderr, /--to is an option of --probe\n {2}hint: add --probe/);
      const noTable = netlab(['counters', 'iptables-drop', 'c1', 'nat'], env);
      assert.equal(noTable.code, 1);
      assert.match(noTable.stderr, /no table 'nat'\n {2}hint: its tables: filter/);

      const c2 = netlab(['counters', 'iptables-drop', 'c1', '--probe', '--from', 'c2', '--to', '172.17.0.2', '--json'], env);
      const r2 = JSON.parse(c2.stdout) as CountersResult;
      assert.equal(r2.probe?.ok, true, 'c2 is answered');
      assert.ok(!r2.chains.some((c) => c.rules.some((x) => x.rule.includes('DROP'))), 'the DROP rule did not move for c2');
    });
    assert.deepEqual(compare(hostBefore, snapshot()), []);
  });

  test('two LANs behind NAT: after a probe through r1, conntrack lists the masqueraded connection', () => {
    withLab(join(ROOT, 'test/fixtures/labs/two-lans-nat.yaml'), 'two-lans-nat', () => {
      const c = netlab(['counters', 'two-lans-nat', 'tl-r1', 'nat', '--probe', '--from', 'tl-a1', '--to', '203.0.113.100', '--proto', 'tcp', '--port', '8000', '--json'], env);
      assert.equal(c.code, 0, c.stderr);
      const r = JSON.parse(c.stdout) as CountersResult;
      assert.equal(r.probe?.ok, true, `the connection through NAT: ${r.probe?.output}`);
      const post = r.chains.find((x) => x.chain === 'POSTROUTING')!;
      assert.deepEqual(
        post.rules.map((x) => [x.rule, x.packets]),
        [['-s 192.168.1.0/24 -o wan -j MASQUERADE', 1]],
        'nat sees the first packet only',
      );

      const j = netlab(['conntrack', 'two-lans-nat', 'tl-r1', '--json'], env);
      assert.equal(j.code, 0, j.stderr);
      const ct = JSON.parse(j.stdout) as ConntrackResult;
      const conn = ct.connections.find((x) => x.proto === 'tcp' && x.original.dport === 8000);
      assert.ok(conn, `no tcp connection to port 8000 in ${j.stdout}`);
      assert.equal(conn.original.src, '192.168.1.10');
      assert.equal(conn.original.dst, '203.0.113.100');
      assert.equal(conn.reply.src, '203.0.113.100');
      assert.equal(conn.reply.dst, '203.0.113.1', "the reply goes to r1's WAN address");
      assert.deepEqual(conn.nat, ['snat']);
      assert.ok(conn.flags.includes('ASSURED'));

      const plain = netlab(['conntrack', 'two-lans-nat', 'tl-r1'], env);
      assert.match(plain.stdout, /^proto +state +original +reply +nat +mark\n/);
      assert.match(plain.stdout, /\ntcp +\S+ assured +192\.168\.1\.10:\d+ -> 203\.0\.113\.100:8000 +203\.0\.113\.100:8000 -> 203\.0\.113\.1:\d+ +snat +0\n/);
      // r2 saw none of it: the same addresses, another router.
      const r2 = JSON.parse(netlab(['conntrack', 'two-lans-nat', 'tl-r2', '--json'], env).stdout) as ConntrackResult;
      assert.ok(!r2.connections.some((x) => x.proto === 'tcp'));
    });
    assert.deepEqual(compare(hostBefore, snapshot()), []);
  });
});
