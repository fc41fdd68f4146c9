// Every lab in labs/ with a steps: section walks through its article on the real kernel: `netlab
// steps FILE --json` brings it up, runs each step's commands and checks, and must exit 0 with every
// step met; then `netlab down` leaves the host's root namespace as it was. A lab without steps, or
// one that needs a kernel feature this machine lacks (exit 6), is skipped with its reason printed.
// Before the kernel runs: the content rules every step must follow (each check says why, and each
// lab's sequence shows its mechanism failing as well as working).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { LABS, netlab, stateDir } from '../lib/host.js';
import { compare, snapshot, type Snapshot } from '../lib/snapshot.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };

type Check = Record<string, { why?: string; expect?: string }>;
interface Step {
  title: string;
  run?: unknown[];
  variant?: string;
  expect?: Check[];
}
interface LabFile {
  checks?: Check[];
  steps?: Step[];
}

const labs = readdirSync(LABS)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => ({ f, file: join(LABS, f), name: f.replace(/\.yaml$/, ''), data: parse(readFileSync(join(LABS, f), 'utf8')) as LabFile }));
const guided = labs.filter((l) => l.data.steps?.length);

/** What `netlab steps --json` prints (the parts this test reads). */
interface StepsJson {
  met: boolean;
  steps: {
    step: number;
    title: string;
    met: boolean;
    commands: { node: string; command: string; met: boolean; exitCode: number; output?: string }[];
    checks: { label: string; why?: string; expect: string; seen: string; met: boolean; output?: string }[];
  }[];
}

/** Every unmet command and check, with what it saw, for the assertion message. */
function unmet(doc: StepsJson): string {
  const out: string[] = [];
  for (const s of doc.steps) {
    for (const c of s.commands.filter((c) => !c.met)) out.push(`step ${s.step} (${s.title}): [${c.node}]$ ${c.command} exited ${c.exitCode}\n${c.output ?? ''}`);
    for (const c of s.checks.filter((c) => !c.met)) out.push(`step ${s.step} (${s.title}): ${c.label}: expected ${c.expect}, saw ${c.seen} (${c.why ?? 'no why'})\n${c.output ?? ''}`);
  }
  return out.join('\n');
}

function skip(t: TestContext, name: string, reason: string): void {
  t.skip(reason);
  console.log(`# SKIP ${name}: ${reason}`);
}

test("every guided lab's checks say why, and its steps show the mechanism failing as well as working", () => {
  assert.ok(guided.length >= 10, `expected the experiments' labs to have steps, found ${guided.map((l) => l.name).join(', ')}`);
  for (const { f, data } of guided) {
    const all = [...(data.checks ?? []).map((c) => ['checks', c] as const), ...data.steps!.flatMap((s) => (s.expect ?? []).map((c) => [`step '${s.title}'`, c] as const))];
    for (const [where, c] of all) {
      const [kind, body] = Object.entries(c)[0]!;
      assert.ok(body.why?.trim(), `labs/${f}: a ${kind} check in ${where} has no why:`);
    }
    for (const s of data.steps!) assert.ok(s.expect?.length, `labs/${f}: step '${s.title}' expects nothing: every step proves something`);
    const fails = data.steps!.flatMap((s) => s.expect ?? []).filter((c) => Object.values(c)[0]!.expect === 'fail');
    assert.ok(fails.length, `labs/${f}: no step expects a failure: remove the mechanism (a rule, a route, a sysctl) and show what breaks`);
  }
});

describe('netlab steps on every guided lab, on the real kernel', () => {
  let hostBefore: Snapshot;
  let t0 = 0;
  before(() => {
    hostBefore = snapshot();
    t0 = Date.now();
  });
  after(() => {
    state.cleanup();
    console.log(`# netlab steps over ${guided.length} labs took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  for (const { file, name, data } of labs) {
    test(`${name}: netlab steps, every step met, then down`, (t) => {
      if (!data.steps?.length) return skip(t, name, 'the lab has no steps: section');
      const r = netlab(['steps', file, '--json'], env);
      // A lab needing a kernel feature this machine lacks is refused before anything is made.
      if (r.code === 6 && process.env.NETLAB_REQUIRE_FULL_KERNEL !== '1') {
        assert.match(r.stderr, /nothing was changed/);
        const missing = [...r.stderr.matchAll(/this kernel lacks (.+?) \(module /g)].map((m) => m[1]).join(', ');
        return skip(t, name, `this kernel lacks ${missing}: the lab runs in the full-kernel VM (vagrant/ci)`);
      }
      try {
        let doc: StepsJson;
        try {
          doc = JSON.parse(r.stdout) as StepsJson;
        } catch {
          assert.fail(`netlab steps printed no JSON (exit ${r.code}):\n${r.stdout}${r.stderr}`);
        }
        assert.equal(doc.steps.length, data.steps.length, 'every step ran');
        assert.equal(r.code, 0, `not every step was met:\n${unmet(doc)}${r.stderr}`);
        assert.ok(doc.met && doc.steps.every((s) => s.met), unmet(doc));
      } finally {
        const down = netlab(['down', name], env);
        assert.equal(down.code, 0, `down failed:\n${down.stdout}${down.stderr}`);
      }
      assert.deepEqual(compare(hostBefore, snapshot()), [], 'down leaves the root namespace as it was');
    });
  }
});
