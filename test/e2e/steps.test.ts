// netlab steps on the real kernel, in a World: a three-step lab (a variant step, a command step,
// a step with expected failures) proven off a terminal (exit 0), a broken expectation (exit 4,
// naming the step and the check), the --json document, the interactive view driven through tmux
// (step 1, run it, move on, go back, reset to a step: the kernel's state checked at each), and
// the flagship labs/iptables-drop.yaml.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, LABS, uid, waitFor } from '../lib/host.js';
import { World } from '../lib/world.js';
import { Terminal, noTerminal } from '../lib/terminal.js';

const LAB = `steps-${uid()}`;
const GOOD = `name: ${LAB}
nodes:
  a: {}
  b: {}
links:
  - endpoints: [a:e0, b:e0]
    addresses: {a: 10.77.0.1/24, b: 10.77.0.2/24}
checks:
  - ping: {from: a, to: b, why: the veth pair carries it}
variants:
  closed:
    nodes:
      b:
        iptables:
          filter:
            INPUT: [-s 10.77.0.1 -j DROP]
steps:
  - title: b drops a's packets
    explain: The variant gives **b** the rule \`-s 10.77.0.1 -j DROP\`.
    variant: closed
    expect:
      - ping: {from: a, to: b, expect: fail, why: "b's DROP rule drops a's echo requests"}
  - title: Flush b's INPUT chain
    explain: Without the rule b answers again.
    run:
      - {node: b, command: iptables -F INPUT}
    expect:
      - ping: {from: a, to: b, name: a reaches b again, why: nothing drops the echo requests now}
      - exec: {node: b, command: iptables -C INPUT -s 10.77.0.1 -j DROP, exit_code: 1, name: the rule is gone}
  - title: Take a's end down
    explain: A command that fails as the article says, then a link down.
    run:
      - {node: a, command: ping -c1 -W1 10.77.0.99, expect_fail: true}
      - {node: a, command: ip link set e0 down}
    expect:
      - ping: {from: a, to: b, expect: fail, why: "a's only link is down"}
`;
/** Step 2 expects the ping to fail, wrongly. Another lab name: the same nodes, brought up after the good lab's down. */
const BROKEN = GOOD.replace(`name: ${LAB}`, `name: ${LAB}-x`).replace('- ping: {from: a, to: b, name: a reaches b again,', '- ping: {from: a, to: b, expect: fail, name: a reaches b again,');

const w = World.create();
const good = join(w.dir, 'good.yaml');
const broken = join(w.dir, 'broken.yaml');
const inB = (cmd: string) => w.sh(`ip netns exec b ${cmd}`);

before(() => {
  writeFileSync(good, GOOD);
  writeFileSync(broken, BROKEN);
});
after(() => w.destroy());

describe('netlab steps', () => {
  test('off a terminal: every step in order, every expectation met: exit 0; the lab stays up at the last step', () => {
    const r = w.netlab(['steps', good]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const out = r.stdout;
    const at = (s: string) => {
      const i = out.indexOf(s);
      assert.ok(i >= 0, `'${s}' in:\n${out}`);
      return i;
    };
    // In order: the declared lab, step 1 with its variant, step 2 with its command, step 3.
    const order = [`lab ${LAB}: as declared`, "step 1/3: b drops a's packets", 'variant closed: ', "step 2/3: Flush b's INPUT chain", '[b]$ iptables -F INPUT', 'step 3/3: Take', '3/3 steps met'];
    const places = order.map(at);
    assert.deepEqual(
      [...places].sort((x, y) => x - y),
      places,
      'in the order of the steps',
    );
    assert.match(out, /✔ ping a -> b: blocked, as expected\n {4}↳ b's DROP rule drops a's echo requests/, 'a met check shows its why');
    assert.match(out, /✔ \[a\]\$ ping -c1 -W1 10\.77\.0\.99 {2}\(exit 1, expected to fail\)/);
    assert.match(out, new RegExp(`netlab down ${LAB}`));
    // The state of step 3: a's end set down (b's is still up, without a carrier).
    assert.doesNotMatch(w.sh('ip netns exec a ip -br link show e0').stdout, /[<,]UP[,>]/);
    assert.match(inB('ip -br link show e0').stdout, /[<,]UP[,>]/);
    // The lab's own checks now fail (a's link is down): check shows the why of the unmet check.
    const c = w.netlab(['check', good]);
    assert.equal(c.code, 4, c.stdout);
    assert.match(c.stdout, /NOT MET\s+ping\s+a .*\n {4}↳ the veth pair carries it/);
    assert.match(c.stdout, /ping a -> b: expected to get through, but it did not get through .*\n {2}why: the veth pair carries it/);
    const cj = JSON.parse(w.netlab(['check', good, '--json']).stdout) as { checks: { why?: string }[] };
    assert.equal(cj.checks[0]!.why, 'the veth pair carries it');
  });

  test('--json: one document, each step with its variant, commands and checks (with their why)', () => {
    const r = w.netlab(['steps', good, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      lab: string;
      file: string;
      met: boolean;
      steps: {
        step: number;
        title: string;
        variant: { name: string; changes: number } | null;
        met: boolean;
        commands: { node: string; command: string; expectFail: boolean; exitCode: number; met: boolean }[];
        checks: { label: string; why?: string; met: boolean; expect: string; seen: string }[];
      }[];
    };
    assert.equal(j.lab, LAB);
    assert.equal(j.file, good);
    assert.equal(j.met, true);
    assert.deepEqual(
      j.steps.map((s) => [s.step, s.title, s.variant?.name ?? null, s.met]),
      [
        [1, "b drops a's packets", 'closed', true],
        [2, "Flush b's INPUT chain", null, true],
        [3, "Take a's end down", null, true],
      ],
    );
    // The lab was at step 3 (a's end down): the variant put b's rule back and a's end up.
    assert.ok(j.steps[0]!.variant!.changes >= 1);
    assert.deepEqual(
      j.steps[2]!.commands.map((c) => [c.node, c.command, c.expectFail, c.exitCode !== 0, c.met]),
      [
        ['a', 'ping -c1 -W1 10.77.0.99', true, true, true],
        ['a', 'ip link set e0 down', false, false, true],
      ],
    );
    assert.deepEqual(
      j.steps[0]!.checks.map((c) => [c.label, c.expect, c.seen, c.why]),
      [['ping a -> b', 'fail', 'fail', "b's DROP rule drops a's echo requests"]],
    );
  });

  test('a lab without steps is refused with a hint', () => {
    const plain = join(w.dir, 'plain.yaml');
    writeFileSync(plain, `name: ${LAB}-p\nnodes:\n  a: {}\n`);
    const r = w.netlab(['steps', plain]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^error: lab ${LAB}-p has no steps\\n  hint: add a 'steps:' section`));
    const far = w.netlab(['steps', good, '--step', '4']);
    assert.equal(far.code, 1);
    assert.match(far.stderr, new RegExp(`^error: --step 4: lab ${LAB} has 3 steps`));
  });

  test('on a terminal: step 1, run it, next, back (a reset), reset to step 2; the kernel follows', { skip: noTerminal() }, async () => {
    const term = Terminal.start(`env NETLAB_STATE_DIR=${w.stateDir} ${w.argv(process.execPath, [CLI, 'steps', good]).join(' ')}`, 110, 40);
    const screen = () => term.screen();
    const see = async (re: RegExp, ms = 30_000) => assert.ok(await waitFor(() => re.test(screen()), ms, 100), `no ${re} on the screen:\n${screen()}`);
    const key = (k: string) => term.keys(k);
    const dropRule = () => inB('iptables -S INPUT').stdout.includes('-A INPUT -s 10.77.0.1/32 -j DROP');
    try {
      await see(/the lab is at the start of step 1: press r to run it/);
      let s = screen();
      assert.match(s, /step 1\/3/);
      assert.match(s, /1\. b drops a's packets/);
      assert.match(s, /The variant gives b the rule -s 10\.77\.0\.1 -j DROP\./, 'the Markdown is drawn, not shown as markers');
      assert.match(s, /· ping a -> b: expected to be blocked\n {6}↳ b's DROP rule drops a's echo requests/, 'what the step expects, and why, before it runs');
      assert.match(s, /r run the step · c check · n next · b back · 1-3 reset to step · s shell · t trace/);
      assert.equal(dropRule(), false, 'before step 1 runs the lab is as declared');
      key('r');
      await see(/every expectation met: n for the next step/);
      assert.match(screen(), /✔ ping a -> b: blocked, as expected/);
      assert.equal(dropRule(), true, "step 1's variant is applied");
      key('n');
      await see(/2\. Flush b's INPUT chain/);
      key('r');
      await see(/every expectation met/);
      s = screen();
      assert.match(s, /✔ \[b\] iptables -F INPUT exit 0/);
      assert.match(s, /✔ a reaches b again: gets through/);
      assert.equal(dropRule(), false, 'step 2 flushed the rule');
      key('b');
      await see(/the lab is at the start of step 1 \(as declared\)/);
      assert.equal(dropRule(), false);
      key('2');
      await see(/the lab is at the start of step 2 \(up, then steps 1-1 replayed\)/);
      assert.equal(dropRule(), true, 'reset to step 2: step 1 replayed (its variant)');
      assert.match(screen(), /expected after this step:/, 'step 2 not run yet');
      key('c');
      await see(/0\/2 expectations met \(the step has not run yet/);
      key('q');
      await see(/EXIT=0/);
      assert.match(screen(), new RegExp(`lab ${LAB} stays up at step 2: 'netlab down ${LAB}' removes it`));
    } finally {
      term.close();
    }
  });

  test('down removes the lab the steps left', () => {
    const r = w.netlab(['down', LAB]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(w.sh('ip netns list').stdout.trim(), '');
  });

  test('a broken expectation: exit 4, naming the step and the check, and the later steps still run', () => {
    const r = w.netlab(['steps', broken]);
    assert.equal(r.code, 4, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /✘ a reaches b again: expected to be blocked, but it got through\n {4}↳ nothing drops the echo requests now/);
    assert.match(r.stdout, /✘ 2\/3 steps met/);
    assert.match(r.stdout, /NOT met: step 2 \(Flush b's INPUT chain\): check 'a reaches b again'/);
    assert.match(r.stdout, /step 3\/3/);
    const j = w.netlab(['steps', broken, '--json']);
    assert.equal(j.code, 4);
    const doc = JSON.parse(j.stdout) as { met: boolean; steps: { met: boolean; checks: { label: string; met: boolean }[] }[] };
    assert.deepEqual([doc.met, ...doc.steps.map((s) => s.met)], [false, true, false, true]);
    assert.deepEqual(
      doc.steps[1]!.checks.filter((c) => !c.met).map((c) => c.label),
      ['a reaches b again'],
    );
    assert.equal(w.netlab(['down', `${LAB}-x`]).code, 0);
  });
});

describe('the flagship', () => {
  // Every guided lab in labs/ is run by steps-labs.test.ts (the labs' own test); this one proves
  // the article of labs/iptables-drop.yaml with the framework's own tests.
  test('netlab steps labs/iptables-drop.yaml: ping works, the DROP rule stops it, deleting it restores it (exit 0)', () => {
    const r = w.netlab(['steps', join(LABS, 'iptables-drop.yaml')]);
    try {
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(
        r.stdout,
        /step 2\/3: Insert the DROP rule in c1\n(.*\n)*? {2}✔ \[c1\]\$ iptables -I INPUT -s 172\.17\.0\.1 -j DROP {2}\(exit 0\)\n {2}✔ ping docker-host -> c1: blocked, as expected\n {4}↳ the DROP rule in c1 drops the gateway's echo requests/,
      );
      assert.match(r.stdout, /✔ 3\/3 steps met/);
    } finally {
      w.netlab(['down', 'iptables-drop']);
    }
  });
});
