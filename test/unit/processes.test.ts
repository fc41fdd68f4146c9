// Finding and stopping a lab's processes through a fake /proc: by network namespace, and a recorded
// pid only while its start time proves it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findTargets, stopProcesses } from '../../src/apply/processes.js';
import { findStarted } from '../../src/observe/processes.js';
import { logFile } from '../../src/model/processes.js';
import { diff } from '../../src/plan/diff.js';
import { describe as describeAction } from '../../src/plan/actions.js';
import { nsInodeOfLink, parseStat } from '../../src/observe/files.js';
import { ScriptedRunner } from '../lib/scripted-runner.js';
import type { ProcessRecord } from '../../src/model/journal.js';
import { applied, fakeFiles, labOf, statText } from '../lib/fixtures.js';

const rec = (pid: number, start: string, ns = 'ns1'): ProcessRecord => ({ ns, argv: ['sleep', '1000'], pid, start, log: '/dev/null' });

test('parseStat: the command name may hold spaces and parentheses; state, group and start time follow it', () => {
  const text = '4242 (my (odd) name) S 1 4240 4240 0 -1 4194560 98 0 0 0 0 0 0 0 20 0 1 0 1234567 5607424 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n';
  assert.deepEqual(parseStat(text), { pid: 4242, comm: 'my (odd) name', state: 'S', pgrp: 4240, start: '1234567' });
  assert.deepEqual(parseStat(statText({ pid: 7, comm: 'a b', state: 'Z', pgrp: 3, start: '99' })), { pid: 7, comm: 'a b', state: 'Z', pgrp: 3, start: '99' });
  assert.equal(parseStat('garbage'), undefined);
  assert.equal(nsInodeOfLink('net:[4026532281]'), 4026532281);
  assert.equal(nsInodeOfLink('mnt:[4026532281]'), undefined);
});

test('findTargets: every process in a lab namespace, whatever its group; a recorded pid only with its start time', () => {
  const files = fakeFiles({
    netns: { ns1: 100, ns2: 200, other: 300 },
    procs: [
      { pid: 10, net: 100, start: '5' }, // a lab process, its own group leader
      { pid: 11, net: 100, pgrp: 11, start: '6' }, // setsid'd daemon in ns1
      { pid: 12, net: 200, pgrp: 500, start: '7' }, // started by hand in ns2, in a shell's group
      { pid: 13, net: 300, start: '8' }, // in a namespace that is not the lab's
      { pid: 14, net: 1, start: '9' }, // in the host's namespace
      { pid: 15, net: 100, state: 'Z', start: '9' }, // exited, not reaped: not running
      { pid: 20, net: 1, start: '777' }, // the journal's pid 20, now an unrelated process leading its own group
      { pid: 21, net: 1, pgrp: 20, start: '778' }, // ... and its child
    ],
  });
  const t = findTargets(files, { namespaces: ['ns1', 'ns2', 'gone'], records: [rec(20, '111')] });
  assert.deepEqual(
    [...t.keys()].sort((a, b) => a - b),
    [10, 11, 12],
  );
  assert.equal(t.get(12)?.ns, 'ns2');
  // A proven record: it goes with its whole group, also the members outside lab namespaces.
  const proven = findTargets(files, { namespaces: [], records: [rec(20, '777')] });
  assert.deepEqual(
    [...proven.keys()].sort((a, b) => a - b),
    [20, 21],
  );
  // A dead leader: only the members of its group that are in its namespace.
  const orphaned = fakeFiles({
    netns: { ns1: 100 },
    procs: [
      { pid: 31, net: 100, pgrp: 30, start: '2' },
      { pid: 32, net: 1, pgrp: 30, start: '3' },
    ],
  });
  assert.deepEqual([...findTargets(orphaned, { namespaces: [], records: [rec(30, '1')] }).keys()], [31]);
  // netlab itself and init are never targets.
  const self = fakeFiles({
    netns: { ns1: 100 },
    procs: [
      { pid: process.pid, net: 100, start: '1' },
      { pid: 1, net: 100, start: '1' },
    ],
  });
  assert.equal(findTargets(self, { namespaces: ['ns1'], records: [] }).size, 0);
});

test('stopProcesses: TERM to each, exits seen in /proc without a spawn per poll; a child forked meanwhile is found; a stopped one is continued', async () => {
  const files = fakeFiles({
    netns: { ns1: 100 },
    procs: [
      { pid: 10, net: 100, start: '5' },
      { pid: 11, net: 100, start: '6', state: 'T' },
      { pid: 99, net: 1, start: '1' },
    ],
  });
  let forked = false;
  const exit = (pid: number) => {
    const i = files.procs.findIndex((p) => p.pid === pid);
    if (i >= 0) files.procs.splice(i, 1);
  };
  const runner = new ScriptedRunner()
    .on('kill -TERM', (argv) => {
      const pids = argv.slice(3).map(Number);
      // pid 10 forks a child on its way out, which exits on its own TERM.
      if (!forked && pids.includes(10)) {
        forked = true;
        files.procs.push({ pid: 12, net: 100, start: '9' });
      }
      // A stopped process acts on TERM once continued.
      for (const pid of pids) if (files.procs.find((p) => p.pid === pid)?.state !== 'T') exit(pid);
      return {};
    })
    .on('kill -CONT', (argv) => {
      for (const pid of argv.slice(3).map(Number)) exit(pid);
      return {};
    });
  const commands: string[] = [];
  const n = await stopProcesses(runner, { namespaces: ['ns1'], records: [] }, { files, commands });
  assert.equal(n, 3);
  assert.deepEqual(
    runner.calls.map((c) => c.argv.join(' ')),
    ['kill -TERM -- 10 11', 'kill -CONT -- 11', 'kill -TERM -- 12'],
  );
  assert.deepEqual(commands, ['kill -TERM -- 10 11  # sleep in ns1, sleep in ns1', 'kill -CONT -- 11  # sleep in ns1', 'kill -TERM -- 12  # sleep in ns1']);
  assert.deepEqual(
    files.procs.map((p) => p.pid),
    [99],
    'the process outside the lab is untouched',
  );
});

test('stopProcesses: a process that ignores TERM gets KILL after the grace; one that survives KILL is an error naming it', async () => {
  const files = fakeFiles({ netns: { ns1: 100 }, procs: [{ pid: 10, net: 100, start: '5', comm: 'stubborn' }] });
  const killed = new ScriptedRunner().on('kill -KILL', () => {
    files.procs.length = 0;
    return {};
  });
  const t0 = Date.now();
  assert.equal(await stopProcesses(killed, { namespaces: ['ns1'], records: [] }, { files, graceMs: 50 }), 1);
  assert.ok(Date.now() - t0 < 1000);
  assert.deepEqual(
    killed.calls.map((c) => c.argv.join(' ')),
    ['kill -TERM -- 10', 'kill -KILL -- 10'],
  );

  const stuck = fakeFiles({ netns: { ns1: 100 }, procs: [{ pid: 10, net: 100, start: '5', comm: 'stuck', state: 'D' }] });
  await assert.rejects(
    stopProcesses(new ScriptedRunner(), { namespaces: ['ns1'], records: [] }, { files: stuck, graceMs: 10 }),
    /1 process\(es\) did not exit after SIGKILL: stuck \(pid 10 in ns1, state D\)/,
  );
});

test('stopProcesses: a journal pid that now belongs to another process (start time differs) gets no signal; dry run lists, sends nothing', async () => {
  const files = fakeFiles({
    netns: { ns1: 100 },
    procs: [
      { pid: 20, net: 1, start: '777' },
      { pid: 10, net: 100, start: '5' },
    ],
  });
  const runner = new ScriptedRunner();
  const commands: string[] = [];
  assert.equal(await stopProcesses(runner, { namespaces: [], records: [rec(20, '111')] }, { files }), 0);
  assert.equal(await stopProcesses(runner, { namespaces: ['ns1'], records: [rec(20, '111')] }, { files, dryRun: true, commands }), 1);
  assert.deepEqual(runner.calls, []);
  assert.deepEqual(commands, ['kill -TERM -- 10  # sleep in ns1']);
});

test('a lost journal: the running processes netlab started (own group, same argv, output to their log) are adopted, not started twice', () => {
  const { desired } = labOf('name: ad\nnodes:\n  ns1:\n    processes: [sleep 1000, {name: web, command: [socat, TCP-LISTEN:80, EXEC:cat]}]\n  ns2:\n');
  const log = (name: string) => logFile('ad', 'ns1', name);
  const files = fakeFiles({
    netns: { ns1: 100, ns2: 200 },
    procs: [
      { pid: 10, net: 100, start: '5', argv: ['sh', '-c', 'sleep 1000'], stdout: `${log('sleep')} (deleted)` }, // its log went with the state directory
      { pid: 11, net: 100, pgrp: 10, start: '6', argv: ['sleep', '1000'], stdout: log('sleep') }, // its child: not a leader
      { pid: 12, net: 100, start: '7', argv: ['socat', 'TCP-LISTEN:80', 'EXEC:cat'], stdout: '/dev/pts/0' }, // the same command, started by hand
      { pid: 13, net: 200, start: '8', argv: ['socat', 'TCP-LISTEN:80', 'EXEC:cat'], stdout: log('web') }, // in another node
    ],
  });
  const found = findStarted(files, 'ad', desired.processes);
  assert.deepEqual([...found], [['ns1/sleep', { pid: 10, start: '5' }]]);
  const { observed } = applied(desired);
  for (const [key, f] of found) observed.processes.set(key, { ...f, alive: true });
  const plan = diff(desired, observed, undefined);
  assert.deepEqual(plan.actions.filter((a) => a.kind.startsWith('process.')).map(describeAction), [
    '~   process ns1/sleep (pid 10): sh -c sleep 1000  (running, but not in the journal: adopted)',
    '+   process ns1/web: socat TCP-LISTEN:80 EXEC:cat  (not running)',
  ]);
});

test("down: processes of every namespace proven the lab's, and of none that was re-made since the lab made it (another identity)", async () => {
  const { teardown } = await import('../../src/apply/teardown.js');
  const { newJournal } = await import('../../src/state/journal.js');
  const files = fakeFiles({
    netns: { ns1: 100, ns2: 201, ns3: 300 },
    procs: [
      { pid: 10, net: 100, start: '5' },
      { pid: 11, net: 201, start: '6' }, // in the ns2 that someone made after the lab's went
      { pid: 12, net: 300, start: '7', comm: 'socat' }, // ns3: no identity recorded (an old journal): its mark proves it
      { pid: 31, net: 201, pgrp: 30, start: '8' }, // in the group of the journal's exited pid 30, in the other ns2
    ],
  });
  const j = {
    ...newJournal('td', '/x.yaml'),
    namespaces: ['ns1', 'ns2', 'ns3'],
    ids: { ns: { ns1: { ino: 100, mtime: '1.0' }, ns2: { ino: 200, mtime: '1.0' } } },
    processes: { 'ns2/p': rec(30, '1', 'ns2') },
  };
  const runner = new ScriptedRunner()
    .on('ip -j -d link show', { stdout: '[]\n' })
    .on('nsenter --net=/run/netns/ns3 ip -j link show dev lo', { stdout: `${JSON.stringify([{ ifname: 'lo', ifalias: 'netlab:td' }])}\n` });
  const r = await teardown(runner, j, { dryRun: true, files });
  assert.equal(r.commands[0], 'kill -TERM -- 10 12  # sleep in ns1, socat in ns3');
  assert.equal(r.processes, 2);
});
