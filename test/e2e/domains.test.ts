// Addresses in separate broadcast domains, on the real kernel: the CNI ptp layout (one gateway
// address on every host-side veth) and two identical LANs behind two NAT routers come up, meet
// their checks, converge (a second up does nothing) and go down leaving the host as it was.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LABS, ROOT, netlab, ping, sh, stateDir } from '../lib/host.js';
import { compare, snapshot, type Snapshot } from '../lib/snapshot.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };

function upProveDown(file: string, name: string, proof: () => void): void {
  const up = netlab(['up', file], env);
  try {
    assert.equal(up.code, 0, `up failed or a check was not met:\n${up.stdout}${up.stderr}`);
    assert.match(up.stdout, /checks met/);
    const again = netlab(['up', file, '--no-checks'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to do/);
    proof();
  } finally {
    const down = netlab(['down', name], env);
    assert.equal(down.code, 0, `down failed:\n${down.stdout}${down.stderr}`);
  }
}

describe('addresses in separate domains on the real kernel', () => {
  let hostBefore: Snapshot;
  before(() => {
    hostBefore = snapshot();
  });
  after(() => state.cleanup());

  test('cni-routed: the same gateway /32 on every host-side veth (the CNI ptp layout)', () => {
    upProveDown(join(LABS, 'cni-routed.yaml'), 'cni-routed', () => {
      const held = sh('ip', ['-n', 'node1', '-o', '-4', 'addr', 'show', 'to', '10.244.1.1/32'])
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/\s+/)[1]);
      assert.deepEqual(held.sort(), ['veth-pod1', 'veth-pod2']);
      assert.ok(ping('pod1', '10.244.1.20'), 'pod1 reaches pod2 through the node');
      assert.ok(ping('pod2', '10.244.1.1'), 'pod2 reaches its gateway');
    });
    assert.deepEqual(compare(hostBefore, snapshot()), [], 'down leaves the root namespace as it was');
  });

  test('two identical LANs behind two NAT routers: up, checks met, no-op up, down', () => {
    upProveDown(join(ROOT, 'test/fixtures/labs/two-lans-nat.yaml'), 'two-lans-nat', () => {
      // By hand: 192.168.1.10 is a1 from a2 and b1 from b2.
      const mac = (ns: string, dev: string) => sh('ip', ['-n', ns, '-j', 'link', 'show', dev]).match(/"address":"([0-9a-f:]+)"/)![1];
      assert.ok(ping('tl-a2', '192.168.1.10') && ping('tl-b2', '192.168.1.10'));
      const neigh = (ns: string) => sh('ip', ['-n', ns, 'neigh', 'show', '192.168.1.10']);
      assert.match(neigh('tl-a2'), new RegExp(mac('tl-a1', 'eth0')!));
      assert.match(neigh('tl-b2'), new RegExp(mac('tl-b1', 'eth0')!));
    });
    assert.deepEqual(compare(hostBefore, snapshot()), [], 'down leaves the root namespace as it was');
  });
});
