// The steps of the labs that need a full kernel (netem, 802.1q, VRF, dummy, bond): `netlab steps`,
// every step met, then down, the root namespace as before. On a kernel without them each is
// skipped with the missing feature printed; in the Vagrant VM (vagrant/ci runs the files named
// full-kernel with NETLAB_REQUIRE_FULL_KERNEL=1) a missing feature is a failure.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stateDir } from '../lib/host.js';
import { compare, snapshot, type Snapshot } from '../lib/snapshot.js';
import { labFiles, runSteps } from '../lib/steps.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };
const labs = labFiles().filter((l) => l.fullKernel.length && l.data.steps?.length);

describe('netlab steps on the full-kernel labs', () => {
  let hostBefore: Snapshot;
  before(() => {
    hostBefore = snapshot();
  });
  after(() => state.cleanup());

  test('the full-kernel labs have steps', () => assert.ok(labs.length >= 4, labs.map((l) => l.name).join(', ')));
  for (const lab of labs) {
    test(`${lab.name} (needs ${lab.fullKernel.join(', ')}): netlab steps, every step met, then down`, (t) => {
      if (runSteps(t, lab, env)) assert.deepEqual(compare(hostBefore, snapshot()), [], 'down leaves the root namespace as it was');
    });
  }
});
