// Operating labs on the real kernel: a failed step rolled back, orphans collected, every lab taken
// down at once, impairments changed at runtime and reset by up.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netlab, netlabAsync, netnsList, ping, sh, stateDir, tryRun, uid, labFile as writeLab, leftovers, waitFor } from '../lib/host.js';
import type { ChildProcess } from 'node:child_process';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };

const labFile = (name: string, body: string) => writeLab(state.dir, name, body);

/** Runs netlab, sends it SIGINT once `ready` holds, and gives its exit code and output. */
async function interrupted(args: string[], ready: (out: string) => boolean): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c: ChildProcess = netlabAsync(args, { ...env, CI: 'true' });
  let stdout = '';
  let stderr = '';
  c.stdout!.on('data', (d) => (stdout += d));
  c.stderr!.on('data', (d) => (stderr += d));
  const closed = new Promise<number | null>((res) => c.on('close', (code) => res(code)));
  try {
    assert.ok(await waitFor(() => ready(stdout), 30_000), `never ready to interrupt: ${stdout}${stderr}`);
    c.kill('SIGINT');
    return { code: await closed, stdout, stderr };
  } finally {
    c.kill('SIGKILL');
  }
}

describe('operating labs on the real kernel', () => {
  after(() => state.cleanup());

  test('a command failing halfway: the step is rolled back, the error names object, command and stderr; down removes the rest; up converges', () => {
    const p = uid();
    // The gateway is in eth0's subnet, but eth0 is down: the kernel refuses the route.
    const body = (up: boolean) => `name: fail-${p}
nodes:
  ${p}a:
    routes: [10.66.0.0/24 via 10.65.0.2]
  ${p}b:
links:
  - endpoints:
      - {node: ${p}a, name: eth0, addresses: [10.65.0.1/24]${up ? '' : ', up: false'}}
      - {node: ${p}b, name: eth0, addresses: [10.65.0.2/24]}
checks:
  - ping: {from: ${p}a, to: 10.65.0.2}
`;
    const file = labFile(`fail-${p}`, body(false));
    try {
      const r = netlab(['up', file], env);
      assert.equal(r.code, 3, `${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`node ${p}a: command failed: route add 10\\.66\\.0\\.0/24 via 10\\.65\\.0\\.2`));
      assert.match(r.stderr, /Nexthop has invalid gateway/);
      assert.match(r.stderr, /rolled back what the failed step had done:[\s\S]*addr del 10\.65\.0\.1\/24 dev eth0/);
      assert.doesNotMatch(sh('ip', ['-n', `${p}a`, 'addr', 'show', 'eth0']), /10\.65\.0\.1/, 'the address the failed batch had added is gone');
      assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
      // down removes what the steps before it made.
      const d = netlab(['down', `fail-${p}`], env);
      assert.equal(d.code, 0, d.stderr);
      assert.deepEqual(leftovers(p), []);
      // After a failure, up with the cause fixed converges and its checks pass.
      assert.equal(netlab(['up', file], env).code, 3);
      writeFileSync(file, body(true));
      const u = netlab(['up', file], env);
      assert.equal(u.code, 0, `${u.stdout}${u.stderr}`);
      assert.equal(netlab(['plan', file, '--detailed-exitcode'], env).code, 0);
    } finally {
      netlab(['down', `fail-${p}`], env);
    }
    assert.deepEqual(leftovers(p), []);
  });

  // Every gc here names its labs: an unscoped gc would also collect the labs of whoever runs
  // the suite (their journals are in another state directory).
  test('gc: what carries a lab mark but no journal goes; a namespace made by hand stays; journals of vanished labs go; gc LAB touches only LAB', () => {
    const p = uid();
    const file = labFile(
      `gc-${p}`,
      `name: gc-${p}
nodes:
  ${p}a:
    processes: [sleep 300]
  ${p}b:
bridges:
  ${p}br: {}
links:
  - endpoints: [${p}a:eth0, ${p}br:${p}ap]
    addresses: {${p}a: 10.67.0.1/24}
  - endpoints: [${p}b:eth0, ${p}br:${p}bp]
    addresses: {${p}b: 10.67.0.2/24}
host:
  iptables:
    filter:
      FORWARD: ['-i ${p}br -o ${p}br -j ACCEPT']
`,
    );
    // Another lab with an orphan of every kind: a namespace, host links, a host rule, a stale lock.
    const other = labFile(
      `gco-${p}`,
      `name: gco-${p}\nnodes:\n  ${p}o:\nbridges:\n  ${p}obr: {}\nlinks:\n  - endpoints: [${p}o:eth0, ${p}obr:${p}op]\nhost:\n  iptables:\n    filter:\n      FORWARD: ['-i ${p}obr -o ${p}obr -j ACCEPT']\n`,
    );
    const otherLock = join(state.dir, 'locks', `gco-${p}.lock`);
    const hand = `${p}hand`;
    const labs = [`gc-${p}`, `gco-${p}`, `gc2-${p}`, `gc3-${p}`];
    sh('ip', ['netns', 'add', hand]);
    try {
      assert.equal(netlab(['up', '--no-checks', file], env).code, 0);
      assert.equal(netlab(['up', '--no-checks', other], env).code, 0);
      rmSync(join(state.dir, 'labs'), { recursive: true, force: true }); // the journals are lost
      writeFileSync(otherLock, '4194305\n'); // above any pid_max: its holder is gone
      const dry = netlab(['gc', '--dry-run', `gc-${p}`], env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, new RegExp(`namespace ${p}a \\(marked by lab gc-${p}, \\d+ process`));
      assert.match(dry.stdout, new RegExp(`host interface ${p}br \\(marked by lab gc-${p}\\)`));
      assert.match(dry.stdout, /-A FORWARD .*netlab:gc-/);
      assert.doesNotMatch(dry.stdout, new RegExp(hand));
      assert.doesNotMatch(dry.stdout, new RegExp(`${p}o|gco-`), 'another lab is out of scope');
      assert.ok(netnsList().includes(`${p}a`), 'dry run changed nothing');
      const g = netlab(['gc', `gc-${p}`], env);
      assert.equal(g.code, 0, g.stderr);
      assert.deepEqual(
        leftovers(p)
          .filter((x) => x !== hand)
          .sort(),
        [`${p}o`, `${p}obr`, `${p}op`],
        "only the named lab's orphans went",
      );
      assert.match(sh('iptables-save', []), new RegExp(`netlab:gco-${p}`), "the other lab's host rule stays");
      assert.ok(existsSync(otherLock), "the other lab's stale lock stays");
      const go = netlab(['gc', `gco-${p}`], env);
      assert.match(go.stdout, new RegExp(`namespace ${p}o \\(marked by lab gco-${p}\\)`));
      assert.match(go.stdout, new RegExp(`host interface ${p}obr \\(marked by lab gco-${p}\\)`));
      assert.deepEqual(
        leftovers(p).filter((x) => x !== hand),
        [],
      );
      assert.doesNotMatch(sh('iptables-save', []), new RegExp(`netlab:gco-${p}`));
      assert.equal(existsSync(otherLock), false, 'gc of the lab removed its stale lock');
      assert.ok(netnsList().includes(hand), 'the namespace made by hand is untouched');
      assert.doesNotMatch(sh('iptables-save', []), new RegExp(`netlab:gc-${p}`));
      assert.equal(
        tryRun('pgrep', ['-f', 'sleep 300'])
          .out.split('\n')
          .filter(Boolean)
          .some((pid) => tryRun('ip', ['netns', 'identify', pid]).out.startsWith(p)),
        false,
      );
      assert.equal(netlab(['gc', ...labs], env).stdout, `nothing to collect for lab ${labs.join(', ')}: no orphan object and no journal left without objects\n`);
      const badName = netlab(['gc', 'no such lab'], env);
      assert.equal(badName.code, 1);
      assert.match(badName.stderr, /^error: not a lab name: no such lab\n {2}hint: /);
      assert.equal(netlab(['gc', join(state.dir, 'missing.yaml')], env).code, 2, 'a lab file that cannot be read');
      assert.doesNotMatch(g.stdout, /nft table ip filter/, "the table still holds the other lab's rule: it stays");
      assert.match(go.stdout, /nft table ip filter \(left empty/, 'once empty, the table the lost labs brought into being goes too');
      // A journal whose objects were removed by hand is collected too, only when in scope.
      const plain = labFile(`gc2-${p}`, `name: gc2-${p}\nnodes:\n  ${p}a:\n  ${p}b:\nlinks:\n  - endpoints: [${p}a:eth0, ${p}b:eth0]\n`);
      const single = labFile(`gc3-${p}`, `name: gc3-${p}\nnodes:\n  ${p}c:\n`);
      assert.equal(netlab(['up', '--no-checks', plain], env).code, 0);
      assert.equal(netlab(['up', '--no-checks', single], env).code, 0);
      sh('ip', ['-force', '-batch', '-'], `netns del ${p}a\nnetns del ${p}b\nnetns del ${p}c\n`);
      const g2 = netlab(['gc', `gc2-${p}`], env);
      assert.match(g2.stdout, /journal of lab gc2-/, g2.stdout);
      assert.doesNotMatch(g2.stdout, /gc3-/);
      assert.match(netlab(['status'], env).stdout, new RegExp(`gc3-${p}`), "the other lab's journal stays");
      assert.match(netlab(['gc', single], env).stdout, new RegExp(`journal of lab gc3-${p}`), 'a lab file names its lab');
      assert.match(netlab(['status'], env).stdout, /no labs are up/);
    } finally {
      netlab(['gc', ...labs], env);
      tryRun('ip', ['netns', 'del', hand]);
    }
    assert.deepEqual(leftovers(p), []);
  });

  test('down --all takes every lab down; down without a lab or with both says what to give', () => {
    const p = uid();
    const files = ['x', 'y'].map((s) => labFile(`all-${p}${s}`, `name: all-${p}${s}\nnodes:\n  ${p}${s}1:\n  ${p}${s}2:\nlinks:\n  - endpoints: [${p}${s}1:e0, ${p}${s}2:e0]\n`));
    try {
      for (const f of files) assert.equal(netlab(['up', '--no-checks', f], env).code, 0);
      assert.equal(netlab(['down'], env).code, 1);
      assert.equal(netlab(['down', files[0]!, '--all'], env).code, 1);
      const d = netlab(['down', '--all'], env);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout, new RegExp(`lab all-${p}x is down`));
      assert.match(d.stdout, new RegExp(`lab all-${p}y is down`));
      assert.deepEqual(leftovers(p), []);
      assert.match(netlab(['down', '--all'], env).stdout, /no lab is up/);
    } finally {
      netlab(['down', '--all'], env);
    }
  });

  test('impair: a rate (tbf) changed at runtime is drift that up resets; what this kernel lacks is named', () => {
    const p = uid();
    const file = labFile(
      `imp-${p}`,
      `name: imp-${p}
nodes:
  ${p}a:
  ${p}b:
links:
  - endpoints: [${p}a:eth0, ${p}b:eth0]
    addresses: {${p}a: 10.68.0.1/24, ${p}b: 10.68.0.2/24}
    impair: {${p}a: {rate: 10mbit}}
checks:
  - ping: {from: ${p}a, to: 10.68.0.2}
`,
    );
    const qdisc = () => sh('tc', ['-n', `${p}a`, 'qdisc', 'show', 'dev', 'eth0']);
    try {
      assert.equal(netlab(['up', file], env).code, 0);
      assert.match(qdisc(), /tbf .*rate 10Mbit/);
      const i = netlab(['impair', `imp-${p}`, `${p}a:eth0`, '--rate', '1mbit'], env);
      assert.equal(i.code, 0, i.stderr);
      assert.match(i.stdout, /tbf rate 1mbit \(until the next 'netlab up/);
      assert.match(qdisc(), /rate 1Mbit/);
      const plan = netlab(['plan', file, '--detailed-exitcode'], env);
      assert.equal(plan.code, 2);
      assert.match(plan.stdout, new RegExp(`~ {3}impairment on ${p}a:eth0: tbf rate 10mbit {2}\\(is tbf rate 1mbit\\)`));
      assert.equal(netlab(['up', file], env).code, 0);
      assert.match(qdisc(), /rate 10Mbit/);
      // --clear, on the other end too; then up puts the file's back.
      assert.equal(netlab(['impair', `imp-${p}`, `${p}a:eth0`, '--clear'], env).code, 0);
      assert.doesNotMatch(qdisc(), /tbf/);
      assert.equal(netlab(['up', file], env).code, 0);
      assert.ok(ping(`${p}a`, '10.68.0.2'));
      const features = JSON.parse(netlab(['doctor', '--json']).stdout) as { features: { feature: string; status: string }[] };
      if (features.features.find((f) => f.feature === 'netem')?.status !== 'ok') {
        const n = netlab(['impair', `imp-${p}`, `${p}a:eth0`, '--delay', '10ms'], env);
        assert.equal(n.code, 6, n.stderr);
        assert.match(n.stderr, /this kernel lacks netem .*module sch_netem/);
        // A lab asking for it is refused before anything is made.
        const f2 = labFile(`imp2-${p}`, `name: imp2-${p}\nnodes:\n  ${p}c:\n  ${p}d:\nlinks:\n  - endpoints: [${p}c:eth0, ${p}d:eth0]\n    impair: {${p}c: {delay: 10ms}}\n`);
        const u = netlab(['up', f2], env);
        assert.equal(u.code, 6, u.stderr);
        assert.match(u.stderr, new RegExp(`impairment on ${p}c:eth0: this kernel lacks netem`));
        assert.ok(!netnsList().includes(`${p}c`), 'nothing was created');
      }
      assert.equal(netlab(['impair', `imp-${p}`, `${p}z:eth0`, '--rate', '1mbit'], env).code, 1);
    } finally {
      netlab(['down', `imp-${p}`], env);
    }
    assert.deepEqual(leftovers(p), []);
  });

  test('Ctrl-C: up stops, lets go of the lab and says where it stands (exit 130); up converges; trace removes its tables', async () => {
    const p = uid();
    const file = labFile(
      `int-${p}`,
      `name: int-${p}
nodes:
  ${p}a:
  ${p}b:
links:
  - endpoints: [${p}a:eth0, ${p}b:eth0]
    addresses: {${p}a: 10.69.0.1/24, ${p}b: 10.69.0.2/24}
checks:
  - exec: {node: ${p}a, command: sleep 30, timeout: 20s}
`,
    );
    try {
      // Interrupted during its checks: the lab is made and recorded, the lock is free.
      const r = await interrupted(['up', file], (out) => /❯ checks \(1\)/.test(out));
      assert.equal(r.code, 130, `${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`interrupted: the journal is up to date; 'netlab up' converges from here, 'netlab down int-${p}' removes the lab`));
      assert.ok(!existsSync(join(state.dir, 'locks', `int-${p}.lock`)), 'the lock is released');
      const again = netlab(['up', '--no-checks', file], env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /nothing to do/);
      // trace: stopped while its trace tables are in the namespaces, it removes them.
      const hasTable = () => /netlab_trace/.test(tryRun('ip', ['netns', 'exec', `${p}a`, 'nft', 'list', 'tables']).out);
      const t = await interrupted(['trace', file, '--from', `${p}a`, '--to', '10.69.0.9'], () => hasTable());
      assert.equal(t.code, 130, `${t.stdout}${t.stderr}`);
      assert.ok(!hasTable(), 'the trace table is gone');
    } finally {
      netlab(['down', `int-${p}`], env);
    }
    assert.deepEqual(leftovers(p), []);
  });
});
