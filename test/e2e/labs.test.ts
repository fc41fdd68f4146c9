// Every lab in labs/: up, prove what its article says, up again changes nothing, down leaves the
// host as it was. Then every lab once more inside a World, as netlab runs in a container or a CI
// pod (not the initial network namespace): up, checks met, no-op up, down, nothing left there.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LABS, netlab, ping, sh, stateDir, tryRun, type CliResult } from '../lib/host.js';
import { compare, snapshot, type Snapshot } from '../lib/snapshot.js';
import { World } from '../lib/world.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };

/** Besides the labs' own checks: the articles' claims checked by hand, independently of netlab's checker. */
const proofs: Record<string, () => void> = {
  'veth-pair': () => {
    assert.ok(ping('ns0', '192.168.10.2'), 'ns0 pings ns1 over the veth pair');
    assert.ok(ping('ns1', '192.168.10.1'), 'ns1 pings ns0');
  },
  'bridge-4ns': () => {
    for (let a = 1; a <= 4; a++) for (let b = 1; b <= 4; b++) if (a !== b) assert.ok(ping(`ns${a}`, `192.168.20.${b}`), `ns${a} pings 192.168.20.${b}`);
    assert.equal(ping('ns1', '192.168.20.99'), false, 'no one has .99');
  },
  'iptables-drop': () => {
    assert.equal(ping('docker-host', '172.17.0.2'), false, 'the DROP rule in c1 blocks the gateway');
    assert.ok(ping('c2', '172.17.0.2'), 'c2 still reaches c1');
    assert.ok(ping('docker-host', '172.17.0.3'), 'the gateway reaches c2');
    // Deleting the rule by hand (the article's `iptables -D INPUT 1`) restores ping...
    sh('ip', ['netns', 'exec', 'c1', 'iptables', '-t', 'filter', '-D', 'INPUT', '1']);
    assert.ok(ping('docker-host', '172.17.0.2'), 'without the rule the gateway reaches c1');
  },
  'custom-chain': () => {
    const listener = sh('bash', ['-c', 'ip netns exec server socat TCP-LISTEN:80,fork,reuseaddr EXEC:/bin/cat >/dev/null 2>&1 & echo $!']).trim();
    try {
      const connect = (ns: string, port: number) => tryRun('ip', ['netns', 'exec', ns, 'socat', '-T2', '-u', 'OPEN:/dev/null', `TCP:10.0.80.1:${port},connect-timeout=2`]).code === 0;
      let ok = false;
      for (let i = 0; i < 20 && !ok; i++) ok = connect('trusted', 80) || (sh('sleep', ['0.1']), false);
      assert.ok(ok, 'MY_WEB accepts the trusted client on port 80');
      assert.equal(connect('other', 80), false, 'MY_WEB rejects another client on port 80');
      assert.ok(ping('other', '10.0.80.1'), 'traffic other than tcp/80 is not judged by MY_WEB');
    } finally {
      tryRun('kill', [listener]);
    }
  },
  'calico-marks': () => {
    const ask = (ns: string, addr: string) => tryRun('ip', ['netns', 'exec', ns, 'python3', '-c', `import socket; print(socket.create_connection(("${addr}", 8080), 2).recv(100).decode())`]);
    assert.match(ask('pod1', '192.168.100.100').out, /you are 192\.168\.100\.1\b/, "outside sees node1's address: masqueraded");
    assert.match(ask('pod1', '10.65.2.20').out, /you are 10\.65\.1\.10\b/, "pod2 sees pod1's own address");
    assert.match(sh('ip', ['netns', 'exec', 'node1', 'ipset', 'list', 'cali40all-ipam-pools']), /^10\.66\.0\.0\/16$/m, 'the sets are in node1');
    // The article's point: the mark set in raw decides the verdict in filter.
    sh('ip', ['netns', 'exec', 'node1', 'iptables', '-t', 'raw', '-D', 'cali-PREROUTING', '-i', 'cali+', '-j', 'MARK', '--set-xmark', '0x40000/0x40000']);
    assert.notEqual(ask('pod1', '192.168.100.100').code, 0, "without the mark node1's FORWARD drops the pod's packets");
  },
};

// A lab across hosts runs across simulated hosts in multi-host.test.ts, never on this host.
const labs = readdirSync(LABS)
  .filter((f) => f.endsWith('.yaml') && !/^hosts:/m.test(readFileSync(join(LABS, f), 'utf8')))
  .sort();

/**
 * A lab that needs a kernel feature this machine lacks is refused before anything is made (exit 6):
 * skipped with the reason, and run in the full-kernel VM (vagrant/ci) where it must pass.
 */
function skippedForKernel(t: TestContext, name: string, up: CliResult): boolean {
  if (up.code !== 6 || process.env.NETLAB_REQUIRE_FULL_KERNEL === '1') return false;
  const missing = [...up.stderr.matchAll(/this kernel lacks (.+?) \(module /g)].map((m) => m[1]).join(', ');
  assert.match(up.stderr, /nothing was changed/);
  t.skip(`this kernel lacks ${missing}: the lab runs in the full-kernel VM (vagrant/ci)`);
  console.log(`# SKIP ${name}: this kernel lacks ${missing}`);
  return true;
}

describe('labs/*.yaml on the real kernel', () => {
  let hostBefore: Snapshot;
  before(() => {
    hostBefore = snapshot();
  });
  after(() => state.cleanup());

  test("every lab declares checks that prove its article's outcome", () => {
    for (const f of labs) {
      const r = netlab(['validate', '--json', join(LABS, f)]);
      assert.equal(r.code, 0, r.stdout);
      assert.match(readFileSync(join(LABS, f), 'utf8'), /^checks:\n {2}- /m, `labs/${f} declares no checks`);
    }
  });

  for (const f of labs) {
    const file = join(LABS, f);
    const name = f.replace(/\.yaml$/, '');
    test(`${name}: up, proof, no-op up, down`, async (t) => {
      // up runs the lab's checks: exit 0 means every one met its expectation.
      const up = netlab(['up', file], env);
      if (skippedForKernel(t, name, up)) return;
      try {
        assert.equal(up.code, 0, `up failed or a check was not met:\n${up.stdout}${up.stderr}`);
        assert.match(up.stdout, /checks met/);
        const plan = netlab(['plan', file, '--detailed-exitcode'], env);
        assert.equal(plan.code, 0, `a second run would change something:\n${plan.stdout}${plan.stderr}`);
        const again = netlab(['up', file, '--no-checks'], env);
        assert.match(again.stdout, /nothing to do/);
        proofs[name]?.();
      } finally {
        const down = netlab(['down', name], env);
        assert.equal(down.code, 0, `down failed:\n${down.stdout}${down.stderr}`);
      }
      assert.deepEqual(compare(hostBefore, snapshot()), [], 'down leaves the root namespace as it was');
    });
  }
});

// One World for the whole pass (making one costs a few spawns); each lab must leave it as it was.
describe('labs/*.yaml in a private world: not the initial network namespace, as in a container or CI pod', () => {
  let w: World;
  let worldBefore: Snapshot;
  let t0 = 0;
  before(() => {
    t0 = Date.now();
    w = World.create();
    worldBefore = w.snapshot();
  });
  after(() => {
    w?.destroy();
    console.log(`# the world pass over ${labs.length} labs took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  for (const f of labs) {
    const file = join(LABS, f);
    const name = f.replace(/\.yaml$/, '');
    test(`${name} in a world: up, checks met, no-op up, down, nothing left`, (t) => {
      const up = w.netlab(['up', file]);
      if (skippedForKernel(t, name, up)) return;
      try {
        assert.equal(up.code, 0, `up failed or a check was not met:\n${up.stdout}${up.stderr}`);
        assert.match(up.stdout, /checks met/);
        const again = w.netlab(['up', file, '--no-checks']);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /nothing to do/);
      } finally {
        const down = w.netlab(['down', name]);
        assert.equal(down.code, 0, `down failed:\n${down.stdout}${down.stderr}`);
      }
      assert.deepEqual(compare(worldBefore, w.snapshot()), [], "down leaves the world's namespace as it was: links, routes, iptables, sysctls, namespaces, lab processes");
    });
  }
});
