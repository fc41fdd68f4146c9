// The interactive view of `netlab steps`, rendered with ink-testing-library: a step before and
// after it ran (its Markdown drawn, its commands and checks with their why), the keys offered
// (the child-command keys only when the CLI has the command), a question; and the Markdown lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { StepsView, keyName } from '../../src/ui/steps-view.js';
import { CheckTable } from '../../src/ui/view.js';
import { keysFor, type StepsUiState } from '../../src/ui/steps-store.js';
import { inline, markdownLines, plainLine } from '../../src/ui/markdown.js';
import { loadLab } from '../../src/load/lab.js';
import type { CheckResult } from '../../src/verify/checks.js';

process.env.NO_COLOR = '1';

const lab = loadLab(
  `name: v
nodes:
  a: {}
  b: {}
links:
  - endpoints: [a:e0, b:e0]
    addresses: {a: 10.0.0.1/24, b: 10.0.0.2/24}
variants:
  closed:
    nodes: {b: {iptables: {filter: {INPUT: [-s 10.0.0.1 -j DROP]}}}}
steps:
  - title: b drops a's packets
    explain: |
      The variant gives **b** the rule \`-s 10.0.0.1 -j DROP\`:
      - a's echo requests are *dropped*,
      - nothing answers.
    variant: closed
    run:
      - {node: b, command: iptables -S INPUT}
    expect:
      - ping: {from: a, to: b, expect: fail, why: "b's rule drops them"}
      - exec: {node: b, command: iptables -S INPUT, output: DROP, name: b has the rule}
`,
  'v.yaml',
);
const step = lab.steps![0]!;

function state(patch: Partial<StepsUiState> = {}): StepsUiState {
  return { lab: 'v', total: 3, index: 0, step, ran: false, commands: [], checks: [], checked: false, keys: keysFor(['shell', 'trace'], 3), ...patch };
}

test('a step before it runs: title, Markdown drawn, variant, command, what it expects and why, the keys', () => {
  const { lastFrame, unmount } = render(<StepsView state={state({ message: { text: 'the lab is at the start of step 1: press r to run it', tone: 'info' } })} />);
  const f = lastFrame()!;
  unmount();
  assert.match(f, /^netlab steps v · step 1\/3$/m);
  assert.match(f, /^1\. b drops a's packets$/m);
  assert.match(f, /^ {2}The variant gives b the rule -s 10\.0\.0\.1 -j DROP:$/m, 'no ** or ` markers');
  assert.match(f, /^ {2}• a's echo requests are dropped,$/m);
  assert.match(f, /variant closed \(the lab is reconciled to it\)/);
  assert.match(f, /\$ \[b\] iptables -S INPUT/);
  assert.match(f, /expected after this step:\n {2}· ping a -> b: expected to be blocked\n {6}↳ b's rule drops them\n {2}· b has the rule: expected to match/);
  assert.match(f, /press r to run it/);
  assert.match(f, /r run the step · c check · n next · b back · 1-3 reset to step · s shell · t trace · q quit/);
  assert.doesNotMatch(f, /counters|conntrack/, 'no keys for commands this CLI does not have');
});

test('a step after it ran: the command and its exit code, each verdict with its why, unmet ones with what ran', () => {
  const [ping, exec] = step.expect;
  const results: CheckResult[] = [
    { check: ping!, seen: 'fail', met: true, attempts: 1, ms: 1000, command: 'ip netns exec a ping ...', output: '', exitCode: 1 },
    { check: exec!, seen: 'fail', met: false, attempts: 1, ms: 5, command: 'ip netns exec b iptables -S INPUT', output: '-P INPUT ACCEPT', exitCode: 0 },
  ];
  const s = state({
    ran: true,
    checked: true,
    checks: results,
    variant: { name: 'closed', changes: 1 },
    commands: [{ command: step.run[0]!, exitCode: 0, output: '-P INPUT ACCEPT', met: true, ms: 3 }],
  });
  const { lastFrame, unmount } = render(<StepsView state={s} />);
  const f = lastFrame()!;
  unmount();
  assert.match(f, /step 1\/3 · run/);
  assert.match(f, /variant closed \(1 change made\)/);
  assert.match(f, /✔ \[b\] iptables -S INPUT exit 0\n {6}\| -P INPUT ACCEPT/);
  assert.match(f, /checks:\n {2}✔ ping a -> b: blocked, as expected\n {6}↳ b's rule drops them/);
  assert.match(f, /✘ b has the rule: expected exit code 0 and output matching \/DROP\/, but got exit code 0 with output/);
  assert.match(f, /\n {6}ran: ip netns exec b iptables -S INPUT\n {6}\| -P INPUT ACCEPT/);
});

test('a question replaces the keys; busy shows what runs', () => {
  const { lastFrame, unmount } = render(
    <StepsView
      state={state({
        busy: 'running step 1',
        choice: {
          title: 'a shell in which node?',
          options: [
            { key: '1', label: 'a' },
            { key: '2', label: 'b' },
          ],
        },
      })}
    />,
  );
  const f = lastFrame()!;
  unmount();
  assert.match(f, /running step 1/);
  assert.match(f, /a shell in which node\?\n {2}1 a\n {2}2 b\n {2}Esc: never mind/);
  assert.doesNotMatch(f, /r run the step/);
});

test('keys: counters and conntrack only when the CLI has them; the step digits follow the step count', () => {
  const labels = (ks: { key: string }[]) => ks.map((k) => k.key).join(' ');
  assert.equal(labels(keysFor(['shell', 'trace', 'counters', 'conntrack'], 4)), 'r c n b 1-4 s t k x q');
  assert.equal(labels(keysFor([], 12)), 'r c n b 1-9 g q');
  assert.equal(keyName('c', { ctrl: true }), 'quit');
  assert.equal(keyName('', { return: true }), 'enter');
  assert.equal(keyName('', { leftArrow: true }), 'left');
  assert.equal(keyName('7', {}), '7');
});

test('markdown: bold, code, emphasis, list items and headings; anything else as written', () => {
  assert.deepEqual(inline('a **b** `c` *d* e'), [{ text: 'a ' }, { text: 'b', bold: true }, { text: ' ' }, { text: 'c', code: true }, { text: ' ' }, { text: 'd', italic: true }, { text: ' e' }]);
  assert.deepEqual(inline('2 * 3 * 4'), [{ text: '2 * 3 * 4' }], 'a lone star is not emphasis');
  assert.deepEqual(markdownLines('# Head\n- one\n  - two\n1. first\nplain `x`\n').map(plainLine), ['Head', '• one', '  • two', '1. first', 'plain x']);
  assert.equal(markdownLines('# Head')[0]!.segments[0]!.bold, true);
});

test("up and check on a terminal: the check table shows each check's why under its row, met or not", () => {
  const [ping, exec] = step.expect;
  const results: CheckResult[] = [
    { check: ping!, seen: 'fail', met: true, attempts: 1, ms: 1000, command: 'ping', output: '', exitCode: 1 },
    { check: { ...exec!, why: 'the rule is listed' }, seen: 'fail', met: false, attempts: 1, ms: 5, command: 'iptables -S INPUT', output: '', exitCode: 0 },
  ];
  const { lastFrame, unmount } = render(<CheckTable results={results} />);
  const f = lastFrame()!;
  unmount();
  assert.match(f, /✔ met +ping .*\n {4}↳ b's rule drops them\n✘ NOT MET +exec .*\n {4}↳ the rule is listed/);
});
