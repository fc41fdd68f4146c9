// A lab's processes on the real kernel, each test in a private World: every process whose network
// namespace is a lab namespace goes with the lab (daemons that left their process group, processes
// started by hand with `ip netns exec`), fast; a journal pid that now names a stranger is left
// alone; gc after a lost journal stops the orphan namespaces' processes; logs go with the lab.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostFiles, liveStat } from '../../src/observe/files.js';
import { uid } from '../lib/host.js';
import { World } from '../lib/world.js';

// The first process is the usual one; the second puts a daemon out of its group (setsid) and
// stays; the third double-forks a socat daemon and stays.
const lab = (name: string) => `name: ${name}
nodes:
  a:
    processes:
      - sleep 1000
      - {name: daemon, command: "setsid sleep 1001 & exec sleep 1000"}
      - {name: socat, command: "(setsid socat TCP-LISTEN:7000,fork,reuseaddr EXEC:cat &) ; exec sleep 1000"}
  b:
links:
  - endpoints: [a:eth0, b:eth0]
    addresses: {a: 10.9.0.1/24, b: 10.9.0.2/24}
`;

/** Pid and start time of every process in the world's namespaces (the proof a pid is still that process). */
function nsProcesses(w: World, names: string[]): { pid: number; start: string; comm: string }[] {
  const pids = names.flatMap((n) => w.run('ip', ['netns', 'pids', n]).stdout.split('\n').filter(Boolean).map(Number));
  return pids.flatMap((pid) => {
    const st = liveStat(hostFiles, pid);
    return st ? [{ pid, start: st.start, comm: st.comm }] : [];
  });
}

const running = (p: { pid: number; start: string }) => liveStat(hostFiles, p.pid)?.start === p.start;

function up(w: World, name: string): string {
  const file = join(w.dir, `${name}.yaml`);
  writeFileSync(file, lab(name));
  const u = w.netlab(['up', '--no-checks', file]);
  assert.equal(u.code, 0, `${u.stdout}${u.stderr}`);
  // A trainee's process, started by hand in a lab namespace.
  assert.equal(w.sh('ip netns exec b sleep 1002 >/dev/null 2>&1 &').code, 0);
  return file;
}

describe('processes on the real kernel', () => {
  test('down stops every process in the lab namespaces (setsid daemon, double-forked socat, one started by hand), removes them, fast; the logs go', (t) => {
    const w = World.create();
    t.after(() => w.destroy());
    const name = `pr-${uid()}`;
    up(w, name);
    const before = nsProcesses(w, ['a', 'b']);
    const comms = before.map((p) => p.comm).sort();
    assert.ok(comms.includes('socat') && comms.filter((c) => c === 'sleep').length >= 4, `processes in the lab: ${comms.join(' ')}`);
    const logs = w.netlab(['logs', name]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /==> a\/daemon \(pid \d+\)/);
    const logDir = join(w.stateDir, 'logs', name);
    assert.ok(existsSync(logDir));

    const t0 = Date.now();
    const d = w.netlab(['down', name]);
    const ms = Date.now() - t0;
    assert.equal(d.code, 0, `${d.stdout}${d.stderr}`);
    assert.match(d.stdout, new RegExp(`stopped ${before.length} process\\(es\\), removed 2 namespace\\(s\\)`));
    // The old wait gave up after 10 s; a down without processes takes ~0.1 s plus node's start.
    assert.ok(ms < 4000, `down took ${ms} ms`);
    assert.deepEqual(before.filter(running), [], 'every process of the lab is gone');
    assert.equal(w.sh('ls /run/netns').stdout, '');
    // Logs go with the lab: nothing left behind, and logs says why there is nothing to show.
    assert.equal(existsSync(logDir), false);
    const after = w.netlab(['logs', name]);
    assert.equal(after.code, 1);
    assert.match(after.stderr, new RegExp(`lab ${name} is not up`));
  });

  test('gc after the journal was deleted stops the processes of the marked orphan namespaces, then removes them and the logs', (t) => {
    const w = World.create();
    t.after(() => w.destroy());
    const name = `prg-${uid()}`;
    up(w, name);
    const before = nsProcesses(w, ['a', 'b']);
    assert.ok(before.length >= 6);
    w.sh(`rm -r "$NETLAB_STATE_DIR/labs"`);
    const dry = w.netlab(['gc', '--dry-run', name]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`namespace a \\(marked by lab ${name}, ${before.length - 1} process\\(es\\) in it\\)`));
    assert.match(dry.stdout, new RegExp(`namespace b \\(marked by lab ${name}, 1 process\\(es\\) in it\\)`));
    assert.match(dry.stdout, /^kill -TERM -- [\d ]+ {2}# /m);
    assert.deepEqual(
      before.filter((p) => !running(p)),
      [],
      'a dry run stops nothing',
    );
    const g = w.netlab(['gc', name]);
    assert.equal(g.code, 0, `${g.stdout}${g.stderr}`);
    assert.match(g.stdout, new RegExp(`process logs of lab ${name} \\(its journal is gone\\)`));
    assert.deepEqual(before.filter(running), []);
    assert.equal(w.sh('ls /run/netns').stdout, '');
    assert.equal(existsSync(join(w.stateDir, 'logs', name)), false);
  });

  test("a journal pid rewritten to an unrelated process that leads its own group is not killed by up's restart nor by down (its start time differs)", async (t) => {
    const w = World.create();
    // A process of this test, in the host's namespace, leading its own process group.
    const stranger = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
    await new Promise((r) => stranger.once('spawn', r));
    t.after(() => {
      stranger.kill('SIGKILL');
      w.destroy();
    });
    const name = `prs-${uid()}`;
    const file = up(w, name);
    const journal = join(w.stateDir, 'labs', `${name}.json`);
    const rewrite = () => {
      const j = JSON.parse(readFileSync(journal, 'utf8')) as { processes: Record<string, { pid: number }> };
      j.processes['a/sleep']!.pid = stranger.pid!;
      writeFileSync(journal, JSON.stringify(j));
    };
    const me = { pid: stranger.pid!, start: liveStat(hostFiles, stranger.pid!)!.start };
    rewrite();
    // up reads the record as exited (another start time): it restarts the process, and only that.
    const u = w.netlab(['up', '--no-checks', file]);
    assert.equal(u.code, 0, `${u.stdout}${u.stderr}`);
    assert.match(u.stdout, /plan: 1 change: 1 to add/);
    assert.ok(running(me), "up's restart left the stranger alone");
    rewrite();
    const before = nsProcesses(w, ['a', 'b']);
    const d = w.netlab(['down', name]);
    assert.equal(d.code, 0, `${d.stdout}${d.stderr}`);
    assert.ok(running(me), 'down left the stranger alone');
    assert.deepEqual(before.filter(running), [], "the lab's processes are gone");
    assert.equal(w.sh('ls /run/netns').stdout, '');
  });

  test('up after the journal and logs were lost adopts the running processes instead of starting them again (a second socat could not listen)', (t) => {
    const w = World.create();
    t.after(() => w.destroy());
    const name = `pra-${uid()}`;
    const file = join(w.dir, `${name}.yaml`);
    writeFileSync(file, `name: ${name}\nnodes:\n  a:\n    processes:\n      - sleep 1000\n      - socat TCP-LISTEN:7000,fork,reuseaddr EXEC:cat\n`);
    assert.equal(w.netlab(['up', '--no-checks', file]).code, 0);
    const before = nsProcesses(w, ['a']);
    w.sh('rm -r "$NETLAB_STATE_DIR/labs" "$NETLAB_STATE_DIR/logs"');
    const u = w.netlab(['up', '--no-checks', file]);
    assert.equal(u.code, 0, `${u.stdout}${u.stderr}`);
    assert.match(u.stdout, /plan: 2 changes: 0 to add, 2 to change/);
    assert.deepEqual(nsProcesses(w, ['a']), before, 'nothing started twice, nothing stopped');
    const j = JSON.parse(readFileSync(join(w.stateDir, 'labs', `${name}.json`), 'utf8')) as { namespaces: string[]; processes: Record<string, { pid: number }> };
    assert.deepEqual(j.namespaces, ['a']);
    assert.deepEqual(Object.keys(j.processes).sort(), ['a/sleep', 'a/socat']);
    assert.ok(Object.values(j.processes).every((r) => before.some((p) => p.pid === r.pid)));
    assert.match(w.netlab(['up', '--no-checks', file]).stdout, /no changes/);
    const d = w.netlab(['down', name]);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(before.filter(running), []);
  });

  test('a node removed from the file: up stops every process in its namespace (a setsid daemon, one started by hand) before deleting it', (t) => {
    const w = World.create();
    t.after(() => w.destroy());
    const name = `prr-${uid()}`;
    const file = up(w, name);
    assert.equal(w.sh('ip netns exec b setsid sleep 1003 >/dev/null 2>&1 &').code, 0);
    const inB = nsProcesses(w, ['b']);
    const inA = nsProcesses(w, ['a']);
    assert.equal(inB.length, 2);
    writeFileSync(
      file,
      `name: ${name}\nnodes:\n  a:\n    processes:\n      - sleep 1000\n      - {name: daemon, command: "setsid sleep 1001 & exec sleep 1000"}\n      - {name: socat, command: "(setsid socat TCP-LISTEN:7000,fork,reuseaddr EXEC:cat &) ; exec sleep 1000"}\n`,
    );
    const u = w.netlab(['up', '--no-checks', file]);
    assert.equal(u.code, 0, `${u.stdout}${u.stderr}`);
    assert.deepEqual(inB.filter(running), [], "the removed node's processes are gone");
    assert.deepEqual(
      inA.filter((p) => !running(p)),
      [],
      "the other node's processes are left alone",
    );
    assert.equal(w.sh('ls /run/netns').stdout, 'a\n');
    assert.equal(w.netlab(['down', name]).code, 0);
  });
});
