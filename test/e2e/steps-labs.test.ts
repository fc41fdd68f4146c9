// Every lab in labs/ with a steps: section walks through its article on the real kernel: `netlab
// steps FILE --json` brings it up, runs each step's commands and checks, and must exit 0 with every
// step met; then `netlab down` leaves the host's root namespace as it was. A lab without steps is
// skipped with its reason printed; one that needs a full kernel is run by full-kernel-steps.test.ts
// (in the Vagrant VM). First, the content rules every guided lab follows: each check says why, each
// step expects something, and each lab shows its mechanism failing as well as working.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stateDir } from '../lib/host.js';
import { compare, snapshot, type Snapshot } from '../lib/snapshot.js';
import { labFiles, runSteps, skip } from '../lib/steps.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };
const labs = labFiles();
const guided = labs.filter((l) => l.data.steps?.length);

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
    console.log(`# netlab steps over the guided labs took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  for (const lab of labs) {
    test(`${lab.name}: netlab steps, every step met, then down`, (t) => {
      if (!lab.data.steps?.length) return skip(t, lab.name, 'the lab has no steps: section');
      if (lab.fullKernel.length) return skip(t, lab.name, `needs ${lab.fullKernel.join(', ')}: full-kernel-steps.test.ts runs its steps (in the Vagrant VM)`);
      if (runSteps(t, lab, env)) assert.deepEqual(compare(hostBefore, snapshot()), [], 'down leaves the root namespace as it was');
    });
  }
});
