// netlab where it is not in the initial network namespace (a privileged container, a CI pod),
// each test in a World of its own: validation does not depend on the namespace; a sysctl that
// exists only elsewhere fails at apply with an error that names it; doctor says where it runs;
// and the suite's stray-process check sees lab namespaces only.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, netlab, waitFor } from '../lib/host.js';
import { compare, strays } from '../lib/snapshot.js';
import { World } from '../lib/world.js';

const dir = mkdtempSync(join(tmpdir(), 'netlab-containers-'));
const lab = (name: string, body: string) => {
  const f = join(dir, `${name}.yaml`);
  writeFileSync(f, `name: ${name}\n${body}`);
  return f;
};

describe('netlab in a private world (not the initial network namespace)', { skip: !isRoot && 'needs root' }, () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a sysctl that does not exist where it is written fails at apply (exit 3), naming the key, the object, the command and stderr; down leaves nothing', () => {
    const w = World.create();
    try {
      const before = w.snapshot();
      // Only the initial namespace has net.ipv4.neigh.default.*: on the real host this lab would apply.
      const host = lab('ctr-host', 'nodes:\n  a:\n  b:\nlinks:\n  - endpoints: [a:eth0, b:eth0]\nhost:\n  sysctls:\n    net.ipv4.neigh.default.gc_thresh3: 4096\n');
      assert.equal(w.netlab(['validate', host]).code, 0, 'validation does not read the namespace netlab runs in');
      const up = w.netlab(['up', host]);
      assert.equal(up.code, 3, `exit 3 as for any failed apply:\n${up.stdout}${up.stderr}`);
      assert.match(
        up.stderr,
        /^error: host, sysctl net\.ipv4\.neigh\.default\.gc_thresh3: command failed: \/proc\/sys\/net\/ipv4\/neigh\/default\/gc_thresh3 does not exist in the network namespace netlab runs in$/m,
      );
      assert.match(up.stderr, /^ {2}in: sysctl -q -w net\/ipv4\/neigh\/default\/gc_thresh3=4096$/m);
      assert.match(up.stderr, /^ {2}sysctl: cannot stat \/proc\/sys\/net\/ipv4\/neigh\/default\/gc_thresh3: No such file or directory$/m);
      assert.match(up.stderr, /^ {2}hint: netlab runs in a network namespace other than the initial one here \(a container, a CI pod, unshare --net\)/m);
      assert.doesNotMatch(up.stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace');
      const down = w.netlab(['down', 'ctr-host']);
      assert.equal(down.code, 0, down.stderr);

      // In a node (never the initial namespace): a read-only key and a typo, told apart, the rest applied.
      const node = lab(
        'ctr-node',
        'nodes:\n  pod:\n    sysctls:\n      net.ipv4.ip_forward: 1\n      net.core.rmem_max: 1048576\n      net.ipv4.conf.eth0.proxy_arpp: 1\n  peer:\nlinks:\n  - endpoints: [pod:eth0, peer:eth0]\n',
      );
      const up2 = w.netlab(['up', node]);
      assert.equal(up2.code, 3, up2.stdout + up2.stderr);
      assert.match(
        up2.stderr,
        /^error: node pod, sysctls net\.core\.rmem_max, net\.ipv4\.conf\.eth0\.proxy_arpp: command failed: in node pod's network namespace: net\.core\.rmem_max is read-only; net\.ipv4\.conf\.eth0\.proxy_arpp does not exist$/m,
      );
      assert.match(up2.stderr, /sysctl: setting key "net\.core\.rmem_max"/);
      assert.match(up2.stderr, /hint: net\.ipv4\.conf\.eth0\.proxy_arpp: did you mean 'proxy_arp'\?; a node's network namespace is never the initial one/);
      assert.equal(w.sh('ip netns exec pod cat /proc/sys/net/ipv4/ip_forward').stdout.trim(), '1', 'sysctl set the keys it could');
      const again = w.netlab(['up', node]);
      assert.equal(again.code, 3, 'up again meets the same refusal');
      assert.equal(w.netlab(['down', 'ctr-node']).code, 0);
      assert.deepEqual(compare(before, w.snapshot()), [], 'nothing left in the world');
    } finally {
      w.destroy();
    }
  });

  test('doctor says it is not in the initial network namespace, with the same feature verdicts as on the host', () => {
    const w = World.create();
    try {
      const before = w.snapshot();
      const r = w.netlab(['doctor', '--json']);
      const j = JSON.parse(r.stdout) as { ok: boolean; namespace: { initial: boolean; detail: string }; features: { feature: string; status: string }[] };
      assert.equal(r.code, j.ok ? 0 : 6);
      assert.equal(j.namespace.initial, false);
      assert.match(j.namespace.detail, /^not the initial network namespace/);
      // Features are tried in a namespace made from the world's, as its labs' are: the kernel is the same.
      const h = JSON.parse(netlab(['doctor', '--json']).stdout) as typeof j;
      assert.equal(h.namespace.initial, true);
      assert.deepEqual(
        j.features.map((f) => `${f.feature} ${f.status}`),
        h.features.map((f) => `${f.feature} ${f.status}`),
      );
      const text = w.netlab(['doctor']).stdout;
      assert.match(text, /\nnetwork namespace\n {2}other {4}not the initial network namespace/);
      if (j.features.some((f) => f.status === 'missing')) assert.match(text, /fix \(on the machine itself, not in this namespace\): /);
      assert.deepEqual(compare(before, w.snapshot()), [], 'doctor leaves the world as it was');
    } finally {
      w.destroy();
    }
  });

  test('the stray check reports a process left in a marked lab namespace, named or not, and nothing else', async () => {
    const w = World.create();
    let sleeps: number[] = [];
    try {
      const view = w.netnsDir();
      assert.equal(strays(view), '');
      // Somebody's namespace (named, unmarked), an unnamed one (a Docker container's), and a lab's.
      const r = w.sh(
        'ip netns add other && (ip netns exec other sleep 600 >/dev/null 2>&1 &) && (unshare --net sleep 601 >/dev/null 2>&1 &) && ' +
          'ip netns add lab1 && ip -n lab1 link set lo alias netlab:ctr-lab && (ip netns exec lab1 sleep 602 >/dev/null 2>&1 &) && sleep 0.3',
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(strays(view), 'netlab:ctr-lab sleep 602');
      // A lab process that outlived its lab: the namespace has no name left, lo still has the mark.
      assert.equal(w.sh('ip netns del lab1').code, 0);
      assert.equal(strays(view), 'netlab:ctr-lab sleep 602');
      // Seen from the host (another /run/netns), nothing in this world is the host's lab process.
      assert.doesNotMatch(strays(), /ctr-lab/);
      sleeps = w.pids().filter((pid) => /^sleep 60[012]$/.test(cmdline(pid)));
      assert.equal(sleeps.length, 3, 'the world knows its processes, in namespaces with and without a name');
    } finally {
      w.destroy();
    }
    assert.ok(await waitFor(() => sleeps.every((pid) => cmdline(pid) === '')), 'destroy stopped every process of the world');
  });
});

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}
