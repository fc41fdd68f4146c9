// Checks against real namespaces, including expected failures; processes started, restarted and
// stopped; the Ink view in a real terminal.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, LABS, hostLinks, labFile as writeLab, netlab, netnsList, removeExact, sh, stateDir, uid, waitFor } from '../lib/host.js';
import { World } from '../lib/world.js';
import { Terminal, noTerminal } from '../lib/terminal.js';
import { hostFiles, liveStat } from '../../src/observe/files.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };

interface CheckJson {
  label: string;
  expect: string;
  seen: string;
  met: boolean;
  output: string;
}

describe('checks and processes on the real kernel', () => {
  after(() => state.cleanup());

  test('iptables-drop: the expected failure is met; without the rule the same check fails (exit 4)', () => {
    const file = join(LABS, 'iptables-drop.yaml');
    try {
      assert.equal(netlab(['up', file, '--no-checks'], env).code, 0);
      // The up after the build reads the lab back and finds it as the file asks: only that read
      // verifies its namespaces (which up --trust-verified may then skip).
      assert.equal(netlab(['up', file, '--no-checks'], env).code, 0);
      const ok = netlab(['check', file, '--json'], env);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      const doc = JSON.parse(ok.stdout) as { met: boolean; checks: CheckJson[] };
      assert.equal(doc.met, true);
      const blocked = doc.checks.find((c) => c.label === 'ping docker-host -> c1')!;
      assert.deepEqual([blocked.expect, blocked.seen, blocked.met], ['fail', 'fail', true]);
      sh('ip', ['netns', 'exec', 'c1', 'iptables', '-D', 'INPUT', '1']);
      const bad = netlab(['check', file, '--json'], env);
      assert.equal(bad.code, 4, 'a check that does not meet its expectation exits 4');
      const after = (JSON.parse(bad.stdout) as { checks: CheckJson[] }).checks.find((c) => c.label === 'ping docker-host -> c1')!;
      assert.deepEqual([after.expect, after.seen, after.met], ['fail', 'ok', false]);
      assert.match(after.output, /1 received/, "the ping's own output is reported");
      const plain = netlab(['check', file], env);
      assert.equal(plain.code, 4);
      assert.match(plain.stdout, /ping docker-host -> c1: expected to be blocked, but it got through/);
      // up --trust-verified trusts c1 (verified by the last up's read, and no netlab exec/shell
      // entered it since): it changes nothing, says so, and the check still fails.
      const trusting = netlab(['up', file, '--trust-verified'], env);
      assert.equal(trusting.code, 4, trusting.stdout + trusting.stderr);
      assert.match(trusting.stdout, /not read: --trust-verified/);
      assert.doesNotMatch(trusting.stdout, /nothing to do/);
      // A plain up reads every namespace, repairs the drift, and the checks are met again.
      const up = netlab(['up', file], env);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      assert.match(up.stdout, /iptables|firewall/);
      // The same change made through netlab exec: the namespace is marked as entered, so even
      // up --trust-verified reads it and repairs it.
      assert.equal(netlab(['exec', 'iptables-drop', 'c1', '--', 'iptables', '-D', 'INPUT', '1'], env).code, 0);
      const reread = netlab(['up', file, '--trust-verified'], env);
      assert.equal(reread.code, 0, reread.stdout + reread.stderr);
      assert.match(reread.stdout, /firewall/);
    } finally {
      netlab(['down', 'iptables-drop'], env);
    }
  });

  test('a lab whose expect: fail ping gets through exits with the failed-checks code', () => {
    const p = uid();
    const f = join(state.dir, `xf-${p}.yaml`);
    writeFileSync(
      f,
      `name: xf-${p}\nnodes:\n  ${p}a:\n  ${p}b:\nlinks:\n  - endpoints: [${p}a:eth0, ${p}b:eth0]\n    addresses: {${p}a: 10.77.0.1/24, ${p}b: 10.77.0.2/24}\nchecks:\n  - ping: {from: ${p}a, to: ${p}b, expect: fail}\n  - udp: {from: ${p}a, to: ${p}b, port: 9, expect: fail, timeout: 500ms}\n  - exec: {node: ${p}a, command: [ip, -o, addr, show, eth0], output: '10\\.77\\.0\\.1/24'}\n  - trace: {from: ${p}a, to: ${p}b, result: dropped}\n`,
    );
    try {
      const u = netlab(['up', f, '--json'], env);
      assert.equal(u.code, 4, u.stderr);
      const doc = JSON.parse(u.stdout) as { applied: boolean; met: boolean; checks: CheckJson[] };
      assert.equal(doc.applied, true);
      assert.deepEqual(
        doc.checks.map((c) => c.met),
        [false, true, true, false],
        'a trace that ends otherwise than declared is not met',
      );
    } finally {
      netlab(['down', `xf-${p}`], env);
      removeExact([`${p}a`, `${p}b`]);
    }
  });

  test('processes: started, restarted after kill and after a change, stopped by down; one that exits at once fails up', async () => {
    const p = uid();
    const name = `pr-${p}`;
    const f = join(state.dir, `${name}.yaml`);
    const write = (port: number) =>
      writeFileSync(
        f,
        `name: ${name}\nnodes:\n  ${p}s:\n    processes:\n      - {name: echo, command: 'socat TCP-LISTEN:${port},fork,reuseaddr EXEC:/bin/cat'}\n  ${p}c:\nlinks:\n  - endpoints: [${p}s:eth0, ${p}c:eth0]\n    addresses: {${p}s: 10.78.0.1/24, ${p}c: 10.78.0.2/24}\nchecks:\n  - tcp: {from: ${p}c, to: ${p}s, port: ${port}}\n`,
      );
    const pidOf = () => (JSON.parse(readFileSync(join(state.dir, 'labs', `${name}.json`), 'utf8')) as { processes: Record<string, { pid: number }> }).processes[`${p}s/echo`]!.pid;
    // Not a zombie: here pid 1 reaps orphans only about once a second, and a zombie holds nothing.
    const alive = (pid: number) => liveStat(hostFiles, pid) !== undefined;
    try {
      write(7000);
      const u = netlab(['up', f], env);
      assert.equal(u.code, 0, u.stdout + u.stderr);
      const pid1 = pidOf();
      assert.ok(alive(pid1));
      assert.match(sh('ip', ['netns', 'identify', String(pid1)]), new RegExp(`${p}s`), 'the process runs in its node');
      assert.equal(netlab(['plan', f, '--detailed-exitcode'], env).code, 0, 'a running process is left alone');
      sh('kill', ['-9', String(pid1)]);
      await waitFor(() => !alive(pid1));
      const plan = netlab(['plan', f], env);
      assert.match(plan.stdout, /\+\s+process .*\/echo.*it exited: restart/);
      assert.equal(netlab(['up', f], env).code, 0);
      const pid2 = pidOf();
      assert.notEqual(pid2, pid1);
      write(7001);
      const changed = netlab(['up', f], env);
      assert.equal(changed.code, 0, changed.stdout + changed.stderr);
      const pid3 = pidOf();
      assert.notEqual(pid3, pid2);
      assert.ok(!alive(pid2), 'the old command was stopped');
      const logs = netlab(['logs', name], env);
      assert.equal(logs.code, 0);
      assert.match(logs.stdout, /==> .*\/echo \(pid \d+\): sh -c socat TCP-LISTEN:7001/);
      const d = netlab(['down', name], env);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout, /stopped 2 process/, 'every process in the lab namespaces: sh and its socat');
      assert.ok(!alive(pid3));
      // A process that exits at once: up fails, names it and shows its output.
      writeFileSync(f, `name: ${name}\nnodes:\n  ${p}s:\n    processes:\n      - {name: bad, command: 'echo cannot bind >&2; exit 3'}\n`);
      const bad = netlab(['up', f], env);
      assert.equal(bad.code, 3);
      assert.match(bad.stderr, /process .*\/bad/);
      assert.match(bad.stderr, /cannot bind/);
    } finally {
      netlab(['down', name], env);
      removeExact([`${p}s`, `${p}c`]);
    }
  });

  test('netlab up in a real terminal shows live progress, then the 4x4 reachability matrix', { skip: noTerminal() }, async () => {
    const term = Terminal.start(`env NETLAB_STATE_DIR=${state.dir} ${process.execPath} ${CLI} up ${join(LABS, 'bridge-4ns.yaml')}`, 80, 40);
    try {
      const ok = await waitFor(() => /EXIT=\d+/.test(term.screen()), 30_000);
      const screen = term.screen();
      assert.ok(ok, `no exit seen:\n${screen}`);
      assert.match(screen, /EXIT=0/);
      assert.match(screen, /✔ namespaces\s+4 changes/);
      assert.match(screen, /from\\to\s+ns1\s+ns2\s+ns3\s+ns4/);
      for (const n of [1, 2, 3, 4]) assert.match(screen, new RegExp(`ns${n}(\\s+[-+]){4}`));
      assert.match(screen, /13\/13 checks met/);
      assert.ok(screen.split('\n').every((l) => l.length <= 80));
    } finally {
      term.close();
      netlab(['down', 'bridge-4ns'], env);
    }
    assert.deepEqual(
      netnsList().filter((n) => /^ns[1-4]$/.test(n)),
      [],
    );
    assert.ok(!hostLinks().includes('br1'));
  });

  test('in an 80x24 terminal, results taller than the window stay in the scrollback, the matrix in file order', { skip: noTerminal() }, async () => {
    // 9 hosts on a bridge, listed in the file out of name order: 72 pings, a 12-line matrix, a
    // summary; with the steps before them, more than 24 lines.
    const p = uid();
    const hosts = [3, 1, 4, 9, 5, 2, 6, 8, 7].map((i) => `${p}h${i}`);
    const lab = [
      `name: tall-${p}`,
      'ipv6_link_local: false',
      'nodes:',
      ...hosts.map((h) => `  ${h}: {}`),
      `bridges: {${p}br: {}}`,
      'links:',
      ...hosts.map((h, i) => `  - {endpoints: [${h}:eth0, ${p}br:${h}p], addresses: {${h}: 10.93.0.${i + 1}/24}}`),
      'checks:',
      `  - reach: {nodes: [${hosts.join(', ')}]}`,
    ].join('\n');
    const file = writeLab(state.dir, `tall-${p}`, `${lab}\n`);
    const w = World.create();
    const term = Terminal.start(w.argv('env', [`NETLAB_STATE_DIR=${w.stateDir}`, process.execPath, CLI, 'up', file]).join(' '), 80, 24);
    try {
      const all = () => term.screen(true);
      assert.ok(await waitFor(() => /EXIT=\d+/.test(all()), 60_000), all());
      const history = all();
      assert.match(history, /EXIT=0/);
      // Nothing was cleared: the first lines are still there, above the results.
      assert.match(history, new RegExp(`netlab up tall-${p}`));
      assert.match(history, /✔ plan/);
      assert.match(history, /72\/72 checks met/);
      const rows = history
        .split('\n')
        .filter((l) => new RegExp(`^${p}h\\d\\s+[-+]`).test(l))
        .map((l) => l.split(/\s+/)[0]);
      assert.deepEqual([...new Set(rows)], hosts, 'matrix rows in the order of the lab file');
      assert.ok(history.split('\n').every((l) => l.length <= 80));
    } finally {
      term.close();
      w.netlab(['down', `tall-${p}`]);
      w.destroy();
    }
  });
});
