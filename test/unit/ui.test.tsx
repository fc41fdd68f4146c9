// The Ink views, rendered with ink-testing-library, and the plain text layouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { CheckTable, ReachMatrix, UpView } from '../../src/ui/view.js';
import { cellText, checkTable, layout, matrices, matrixLines } from '../../src/ui/format.js';
import { InkRenderer, Store, type RowTask } from '../../src/ui/store.js';
import { Listr } from 'listr2';
import { changeLines, plainChecks } from '../../src/ui/session.js';
import { diff } from '../../src/plan/diff.js';
import { newJournal } from '../../src/state/journal.js';
import { emptyObserved, labOf, twoOnBridge } from '../lib/fixtures.js';
import type { CheckResult } from '../../src/verify/checks.js';
import type { CheckSpec } from '../../src/model/types.js';

process.env.NO_COLOR = '1';

function ping(from: string, to: string, seen: 'ok' | 'fail', expect: 'ok' | 'fail' = 'ok', matrix = true): CheckResult {
  const check: CheckSpec = {
    kind: 'ping',
    from,
    to: `10.0.0.${to.slice(-1)}`,
    family: 'ipv4',
    count: 1,
    label: `ping ${from} -> ${to}`,
    expect,
    timeoutMs: 1000,
    attempts: 3,
    path: [],
    ...(matrix ? { matrix: { id: 0, from, to } } : {}),
  };
  return {
    check,
    seen,
    met: seen === expect,
    attempts: 1,
    ms: 3,
    exitCode: seen === 'ok' ? 0 : 1,
    command: `ip netns exec ${from} ping -c 1 10.0.0.${to.slice(-1)}`,
    output: seen === 'ok' ? '1 received' : '100% packet loss',
  };
}

function all(nodes: string[], bad: [string, string][] = []): CheckResult[] {
  const out: CheckResult[] = [];
  for (const f of nodes) for (const t of nodes) if (f !== t) out.push(ping(f, t, bad.some(([a, b]) => a === f && b === t) ? 'fail' : 'ok'));
  return out;
}

test('the reach matrix reads without colour: + reached, x blocked, !x! not as expected', () => {
  const results = all(['ns1', 'ns2', 'ns3'], [['ns2', 'ns3']]);
  const { lastFrame } = render(<ReachMatrix results={results} />);
  const frame = lastFrame()!;
  assert.match(frame, /from\\to\s+ns1\s+ns2\s+ns3/);
  assert.match(frame, /ns1\s+-\s+\+\s+\+/);
  assert.match(frame, /ns2\s+\+\s+-\s+!x!/);
  assert.match(frame, /\+ reached {2}x blocked {2}!…! not as expected/);
});

test('an expected failure that succeeds is marked as not met', () => {
  const r = ping('a', 'b', 'ok', 'fail', false);
  assert.equal(cellText(r), '!+!');
  const { lastFrame } = render(<CheckTable results={[r]} />);
  assert.match(lastFrame()!, /✘ NOT MET\s+ping\s+a\s+10\.0\.0\.b?\S*\s+fail\s+ok/);
});

test('the up view: finished steps, the matrix, the failures with their output, the summary', () => {
  const results = [...all(['ns1', 'ns2'], [['ns1', 'ns2']])];
  const { lastFrame } = render(
    <UpView
      state={{
        title: 'netlab up demo',
        rows: [
          { id: 'plan', title: 'plan', state: 'done', detail: '3 changes', ms: 12, lines: ['  ~   link ns3:tap3 up  (was down)'] },
          { id: 'links', title: 'links', state: 'done', detail: '2 changes, 1 command', ms: 7 },
        ],
        checks: { total: 2, results },
        summary: { ok: false, text: 'lab demo is up · 1/2 checks met' },
      }}
    />,
  );
  const f = lastFrame()!;
  assert.match(f, /netlab up demo/);
  assert.match(f, /✔ plan\s+3 changes 12 ms\n\s+~\s+link ns3:tap3 up {2}\(was down\)/, 'the changes made to a lab that was up, under the plan');
  assert.match(f, /ns1\s+-\s+!x!/);
  assert.match(f, /✘ ping ns1 -> ns2: expected to get through, but it did not get through/);
  assert.match(f, /\| 100% packet loss/);
  assert.match(f, /✘ lab demo is up · 1\/2 checks met/);
});

test('everything fits 80 columns, even a 12-node matrix and long targets', () => {
  const nodes = Array.from({ length: 12 }, (_, i) => `node-${i + 1}`);
  const m = matrices(all(nodes))[0]!;
  for (const l of matrixLines(m, 80).lines) assert.ok(l.text.length <= 80, `${l.text.length}: ${l.text}`);
  const t = checkTable([ping('a-very-long-node-name', 'b', 'ok', 'ok', false)]);
  for (const l of layout(
    t.head,
    t.rows.map((r) => r.cells),
    80,
  ))
    assert.ok(l.length <= 80);
  const { lastFrame } = render(<ReachMatrix results={all(nodes)} />);
  for (const l of lastFrame()!.split('\n')) assert.ok(l.length <= 80, l);
});

test('plain output has the same matrix, table and failure text', () => {
  const text = plainChecks([...all(['ns1', 'ns2']), ping('ns1', 'x9', 'ok', 'fail', false)]);
  assert.match(text, /ns1\s+-\s+\+/);
  assert.match(text, /✘ NOT MET\s+ping/);
  assert.match(text, /ping ns1 -> x9: expected to be blocked, but it got through/);
});

test('a matrix wider than the terminal is split into blocks of columns, names kept whole', () => {
  const nodes = Array.from({ length: 30 }, (_, i) => `node-${i + 1}`);
  const { lines } = matrixLines(matrices(all(nodes))[0]!, 80);
  for (const l of lines) assert.ok(l.text.length <= 80, `${l.text.length}: ${l.text}`);
  const heads = lines.filter((l) => l.head);
  assert.ok(heads.length > 1, 'more than one block');
  const named = heads.flatMap((h) => h.text.split(/\s+/).slice(1));
  assert.deepEqual(named, nodes, 'every column once, whole, in order');
  // Each block has a row per node: every cell is drawn exactly once.
  assert.equal(
    lines.filter((l) => !l.head).reduce((n, l) => n + l.cells.length, 0),
    30 * 30,
  );
});

test('the store keeps results in the order of the lab file, whatever order they complete in', () => {
  const results = all(['ns1', 'ns2', 'ns3', 'ns4']);
  const store = new Store('t');
  store.checksStarted(results.map((r) => r.check));
  for (const i of [11, 0, 7, 3, 9, 1, 5, 2, 10, 4, 8, 6]) store.checkDone(results[i]!);
  assert.deepEqual(store.get().checks.results, results);
  const m = matrices(store.get().checks.results)[0]!;
  assert.deepEqual(m.from, ['ns1', 'ns2', 'ns3', 'ns4']);
});

test('the up view draws results only once the run has ended, and then as permanent output', () => {
  const results = all(['ns1', 'ns2']);
  const state = { title: 't', rows: [{ id: 'checks', title: 'checks', state: 'running' as const }], checks: { total: 2, results } };
  const live = render(<UpView state={state} />);
  const running = live.lastFrame()!;
  live.unmount(); // its spinner's timer would keep the test process alive
  assert.match(running, /checks/);
  assert.doesNotMatch(running, /from\\to/);
  const ended = render(<UpView state={{ ...state, rows: [{ ...state.rows[0]!, state: 'done' }], summary: { ok: true, text: 'done' } }} />).lastFrame()!;
  assert.match(ended, /from\\to\s+ns1\s+ns2/);
  assert.match(ended, /✔ done/);
});

test('up lists the changes it makes to a lab that was up (at most max), not those of a first up', () => {
  const { lab, desired } = labOf(twoOnBridge('cl'));
  const observed = emptyObserved();
  const plan = diff(desired, observed, undefined);
  const p = { lab, desired, observed, journal: undefined, plan, steps: [], notes: [] };
  assert.deepEqual(changeLines(p), [], 'a first up only counts them');
  const lines = changeLines({ ...p, journal: newJournal('cl', '/x.yaml') }, 3);
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^ {2}\+ {3}namespace ns1/);
  assert.match(lines[3]!, new RegExp(`and ${plan.actions.length - 3} more \\(--json lists them all\\)`));
});

test('the Ink rows are the task list: InkRenderer hands listr2 tasks to the store, rows follow their state', async () => {
  const store = new Store('t');
  const seen: string[] = [];
  store.subscribe(() =>
    seen.push(
      store
        .get()
        .rows.map((r) => `${r.id}:${r.state}`)
        .join(','),
    ),
  );
  let release = () => {};
  const held = new Promise<void>((res) => (release = res));
  const info = { id: 'links', label: 'links' } as RowTask['row'];
  const tasks: RowTask[] = [
    { title: 'plan', row: { id: 'plan', label: 'plan', detail: 'no changes', ms: 3 }, task: () => {} },
    { title: 'links', row: info, task: async () => held.then(() => Object.assign(info, { detail: '1 change', ms: 5 })) },
    { title: 'checks', row: { id: 'checks', label: 'checks (0)' }, skip: () => true, task: () => {} },
  ];
  const run = new Listr(tasks, { renderer: InkRenderer, rendererOptions: { store }, registerSignalListeners: false } as never).run();
  await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(
    store.get().rows.map((r) => [r.id, r.state]),
    [
      ['plan', 'done'],
      ['links', 'running'],
      ['checks', 'pending'],
    ],
  );
  release();
  await run;
  assert.deepEqual(store.get().rows[1], { id: 'links', title: 'links', state: 'done', detail: '1 change', ms: 5 });
  assert.equal(store.get().rows.length, 2, 'a skipped task has no row');
  assert.ok(seen.length > 2);
});
