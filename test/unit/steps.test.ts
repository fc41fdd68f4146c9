// Guided labs, the pure parts: JSON Merge Patch, steps and variants as the loader normalizes them
// (checks resolved against the lab each step runs in), the lab a step runs in, the lab cache's
// round trip, and the plain lines and JSON that show a check's why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadLab } from '../../src/load/lab.js';
import { mergePatch, patchReach } from '../../src/load/merge-patch.js';
import { decodeLab, encodeLab } from '../../src/load/cache.js';
import { labAt, type StepsResult } from '../../src/engine/steps.js';
import { checkLines, stepsSummary } from '../../src/ui/steps.js';
import { plainChecks } from '../../src/ui/session.js';
import { checksJson, stepsJson } from '../../src/ui/present.js';
import type { CheckSpec, Lab } from '../../src/model/types.js';
import type { CheckResult } from '../../src/verify/checks.js';
import { LabError } from '../../src/load/problems.js';

test('mergePatch follows RFC 7386 (its appendix A cases)', () => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, want] of cases) {
    const before = JSON.stringify(target);
    assert.deepEqual(mergePatch(target, patch), want, `${before} + ${JSON.stringify(patch)}`);
    assert.equal(JSON.stringify(target), before, 'the target is not changed');
  }
});

test('patchReach: inside the patch, inside a list it replaced, or from the lab file', () => {
  const patch = { nodes: { c1: { iptables: null } }, links: [{ endpoints: ['a:e0'] }] };
  assert.deepEqual(patchReach(patch, ['nodes', 'c1', 'iptables']), { inside: true, depth: 3 });
  assert.deepEqual(patchReach(patch, ['links', 0, 'endpoints', 0]), { inside: true, depth: 1 });
  assert.deepEqual(patchReach(patch, ['nodes', 'c2', 'routes']), { inside: false, depth: 1 });
  assert.deepEqual(patchReach(patch, ['checks', 0]), { inside: false, depth: 0 });
});

const LAB = `name: guided
nodes:
  a: {}
  b: {}
links:
  - endpoints: [a:e0, b:e0]
    addresses: {a: 10.0.0.1/24, b: 10.0.0.2/24}
checks:
  - ping: {from: a, to: b, why: a reaches b}
variants:
  moved:
    links:
      - endpoints: [a:e0, b:e0]
        addresses: {a: 10.0.0.1/24, b: 10.0.0.9/24}
  declared: {}
steps:
  - title: As declared
    explain: "**a** reaches \`b\`"
    expect:
      - ping: {from: a, to: b}
  - title: b moves
    explain: x
    variant: moved
    run:
      - {node: b, command: ip -br addr}
      - {node: a, command: [ping, -c1, 10.0.0.2], expect_fail: true, timeout: 5s}
    expect:
      - ping: {from: a, to: b, why: b has its new address}
      - exec: {node: b, command: "ip addr", output: 10.0.0.9, why: the variant moved it}
  - title: Still moved
    explain: x
    expect:
      - ping: {from: a, to: 10.0.0.2, expect: fail}
  - title: Back
    explain: x
    variant: declared
`;

test('steps and variants load: commands, checks against the lab each step runs in, why', () => {
  const lab = loadLab(LAB, 'guided.yaml');
  assert.equal(lab.checks[0]!.why, 'a reaches b');
  assert.deepEqual([...lab.variants!.keys()], ['moved', 'declared']);
  assert.equal(lab.variants!.get('moved')!.steps, undefined, 'a variant has no steps of its own');
  const steps = lab.steps!;
  assert.equal(steps.length, 4);
  assert.deepEqual(
    steps[0]!.expect.map((c) => c.kind === 'ping' && c.to),
    ['10.0.0.2'],
  );
  assert.deepEqual(steps[0]!.path, ['steps', 0]);
  assert.deepEqual(steps[0]!.expect[0]!.path, ['steps', 0, 'expect', 0, 'ping']);
  // Step 2 runs in the variant: 'b' is its new address.
  const s2 = steps[1]!;
  assert.equal(s2.variant, 'moved');
  assert.deepEqual((s2.expect[0] as Extract<CheckSpec, { kind: 'ping' }>).to, '10.0.0.9');
  assert.equal(s2.expect[0]!.why, 'b has its new address');
  assert.deepEqual(
    s2.run.map((c) => [c.node, c.ns, c.argv, c.text, c.expectFail, c.timeoutMs]),
    [
      ['b', 'b', ['sh', '-c', 'ip -br addr'], 'ip -br addr', false, 30000],
      ['a', 'a', ['ping', '-c1', '10.0.0.2'], 'ping -c1 10.0.0.2', true, 5000],
    ],
  );
  // The lab each step runs in: the variants accumulate until the next one.
  assert.equal(labAt(lab, 0), lab);
  assert.equal(labAt(lab, 1), lab.variants!.get('moved'));
  assert.equal(labAt(lab, 2), lab.variants!.get('moved'));
  assert.equal(labAt(lab, 3), lab.variants!.get('declared'));
  // An empty patch is the lab as declared.
  assert.deepEqual(encodeLab(lab.variants!.get('declared')!), encodeLab({ ...lab, steps: undefined, variants: undefined } as unknown as Lab));
});

test('the lab cache keeps steps and variants', () => {
  const lab = loadLab(LAB, 'guided.yaml');
  const back = decodeLab(encodeLab(lab));
  assert.deepEqual(back.steps, lab.steps);
  assert.ok(back.variants instanceof Map);
  assert.ok(back.variants.get('moved')!.nodes instanceof Map);
  assert.deepEqual(encodeLab(back), encodeLab(lab));
});

test('a lab without steps or variants loads as before', () => {
  const lab = loadLab('name: plain\nnodes:\n  a: {}\n', 'plain.yaml');
  assert.equal(lab.steps, undefined);
  assert.equal(lab.variants, undefined);
});

test('a variant problem is located in the variant, with file:line:col', () => {
  const text = `name: v
nodes:
  a: {}
variants:
  x:
    nodes:
      a:
        routes: [nonsense]
`;
  assert.throws(
    () => loadLab(text, 'v.yaml'),
    (err: unknown) => {
      assert.ok(err instanceof LabError);
      const p = err.problems[0]!;
      assert.deepEqual([p.file, p.line, p.col], ['v.yaml', 8, 18]);
      assert.match(p.path, /^variants\.x\.nodes\.a\.routes\[0\]/);
      return true;
    },
  );
});

const result = (check: Partial<CheckSpec>, met: boolean, seen: 'ok' | 'fail'): CheckResult =>
  ({
    check: { kind: 'ping', from: 'a', to: '10.0.0.2', family: 'ipv4', count: 1, label: 'ping a -> b', expect: 'ok', timeoutMs: 1000, attempts: 1, path: [], ...check } as CheckSpec,
    seen,
    met,
    attempts: 1,
    ms: 3,
    command: 'ip netns exec a ping -c1 10.0.0.2',
    output: '1 packets transmitted, 0 received',
    exitCode: seen === 'ok' ? 0 : 1,
  }) as CheckResult;

test("a check's why is shown next to its verdict, met or not (steps, up/check, --json)", () => {
  const met = result({ expect: 'fail', why: 'the DROP rule drops it' }, true, 'fail');
  const unmet = result({ why: 'b answers' }, false, 'fail');
  assert.deepEqual(checkLines(met), ['  ✔ ping a -> b: blocked, as expected', '    ↳ the DROP rule drops it']);
  const lines = checkLines(unmet);
  assert.equal(lines[0], '  ✘ ping a -> b: expected to get through, but it did not get through');
  assert.equal(lines[1], '    ↳ b answers');
  assert.match(lines.join('\n'), /ran: ip netns exec a ping/);
  const table = plainChecks([met, unmet]);
  assert.match(table, /✔ met .*\n {4}↳ the DROP rule drops it\n.*NOT MET.*\n {4}↳ b answers/);
  assert.match(table, /why: b answers/, 'the failure text says what the check was to prove');
  assert.equal(checksJson([met])[0]!.why, 'the DROP rule drops it');
  assert.equal('why' in checksJson([result({}, true, 'ok')])[0]!, false);
});

test('the steps summary names the unmet step, check and command; the JSON has every step', () => {
  const lab = loadLab(LAB, 'guided.yaml');
  const steps = lab.steps!;
  const r: StepsResult = {
    declared: { changes: 5 },
    steps: [
      { index: 0, step: steps[0]!, commands: [], checks: [result({}, true, 'ok')], met: true, ms: 10 },
      {
        index: 1,
        step: steps[1]!,
        variant: { name: 'moved', changes: 2 },
        commands: [{ command: steps[1]!.run[1]!, exitCode: 0, output: '', met: false, ms: 5 }],
        checks: [result({ label: 'ping a -> b (moved)' }, false, 'fail')],
        met: false,
        ms: 20,
      },
    ],
    met: false,
    ms: 30,
  };
  const s = stepsSummary(lab, r).join('\n');
  assert.match(s, /^✘ 1\/2 steps met · 1\/2 checks met/);
  assert.match(s, /NOT met: step 2 \(b moves\): command 'ping -c1 10\.0\.0\.2' in a exited 0 \(expected to fail\)/);
  assert.match(s, /NOT met: step 2 \(b moves\): check 'ping a -> b \(moved\)'/);
  assert.match(s, /netlab down guided/);
  const j = stepsJson(lab, r);
  assert.equal(j.met, false);
  assert.deepEqual(
    j.steps.map((x) => [x.step, x.title, x.variant?.name ?? null, x.met]),
    [
      [1, 'As declared', null, true],
      [2, 'b moves', 'moved', false],
    ],
  );
  assert.deepEqual(j.steps[1]!.commands[0], { node: 'a', command: 'ping -c1 10.0.0.2', expectFail: true, exitCode: 0, met: false, ms: 5, output: '' });
});
