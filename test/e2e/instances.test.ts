// Instances on the real kernel: two instances of bridge-4ns side by side with the article's names,
// every command by LAB@NAME, a shell in the instance's world running the article's commands as
// written, kill -9 during up, and the real root namespace byte-identical during and after.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, LABS, isRoot, labFile, netlab, stateDir, uid, waitFor } from '../lib/host.js';
import { compare, hostExec, hostNetnsDir, snapshot } from '../lib/snapshot.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };
const LAB = join(LABS, 'bridge-4ns.yaml');
const take = () => snapshot(hostExec, hostNetnsDir(), { everySysctl: true });

/** netlab in a process group of its own (kill -9 of the group: netlab and netlab inside the world). */
function start(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise<number>((r) => child.once('close', (code, sig) => r(code ?? (sig ? 137 : -1))));
  return { child, done, out: () => out };
}

/** What is left of netlab's instances: their directories and every mount under the state directory. */
function residue(): string[] {
  const dir = join(state.dir, 'instances');
  const dirs = existsSync(dir) ? readdirSync(dir).map((d) => `instances/${d}`) : [];
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(state.dir));
  return [...dirs, ...mounts];
}

describe('instances on the real kernel', { skip: isRoot ? false : 'needs root' }, () => {
  after(() => {
    netlab(['down', '--all'], env);
    netlab(['gc'], env);
    state.cleanup();
  });

  test('two instances of bridge-4ns side by side, by LAB@NAME; the root namespace untouched', async () => {
    const u = uid();
    const [a, b] = [`${u}a`, `${u}b`];
    const [ka, kb] = [`bridge-4ns@${a}`, `bridge-4ns@${b}`];
    const before = take();
    try {
      // Both at once, with the article's names in each.
      const ups = [start(['up', LAB, '--instance', a]), start(['up', LAB, '--instance', b])];
      const codes = await Promise.all(ups.map((x) => x.done));
      assert.deepEqual(codes, [0, 0], ups.map((x) => x.out()).join('\n---\n'));
      assert.deepEqual(compare(before, take()), [], 'the root namespace changed while the instances are up');

      for (const k of [ka, kb]) {
        const e = netlab(['exec', k, 'ns1', '--', 'ping', '-c1', '-W1', '192.168.20.4'], env);
        assert.equal(e.code, 0, `${k}: ${e.stdout}${e.stderr}`);
        const c = netlab(['check', k], env);
        assert.equal(c.code, 0, `${k}: ${c.stdout}${c.stderr}`);
      }
      // The instance's own world: the article's commands as written (the shell reads them from stdin).
      const sh = spawnSyncInput(['shell', ka], 'ip netns exec ns1 ping -c1 -W1 192.168.20.4 && brctl show && ip netns list && echo "in $NETLAB_INSTANCE"\n');
      assert.equal(sh.code, 0, sh.out);
      assert.match(sh.out, /1 received/);
      assert.match(sh.out, /br1\s.*tap1_peer/);
      assert.match(sh.out, /^ns1\b/m);
      assert.match(sh.out, new RegExp(`in ${ka}`));
      // A node shell by LAB@NAME too.
      const ns = spawnSyncInput(['shell', kb, 'ns2'], 'ip -br addr show tap2\n');
      assert.match(ns.out, /192\.168\.20\.2\/24/, ns.out);

      const st = netlab(['status'], env);
      assert.equal(st.code, 0, st.stderr);
      for (const k of [ka, kb]) assert.match(st.stdout, new RegExp(`^${k}  up  4 node\\(s\\)`, 'm'), st.stdout);
      const one = netlab(['status', ka], env);
      assert.match(one.stdout, /matches the file/, one.stdout + one.stderr);
      const json = JSON.parse(netlab(['status', '--json'], env).stdout) as { instances: { instance: string; world: string }[] };
      assert.deepEqual(json.instances.map((i) => `${i.instance} ${i.world}`).sort(), [`${ka} up`, `${kb} up`]);
      const missing = netlab(['exec', `bridge-4ns@${u}z`, 'ns1', '--', 'true'], env);
      assert.equal(missing.code, 3, missing.stderr);
      assert.match(missing.stderr, /instance bridge-4ns@\w+ is not up/);

      const d = netlab(['down', ka], env);
      assert.equal(d.code, 0, d.stdout + d.stderr);
      assert.match(d.stderr, /its world is removed/);
      assert.equal(netlab(['exec', ka, 'ns1', '--', 'true'], env).code, 3);
      assert.equal(netlab(['exec', kb, 'ns1', '--', 'ping', '-c1', '-W1', '192.168.20.3'], env).code, 0, 'the other instance is untouched');
      const all = netlab(['down', '--all'], env);
      assert.equal(all.code, 0, all.stdout + all.stderr);
      assert.match(all.stdout, new RegExp(`instance ${kb}: its world is removed`));
      assert.deepEqual(residue(), []);
      assert.deepEqual(compare(before, take()), [], 'the root namespace changed');
    } finally {
      netlab(['down', ka], env);
      netlab(['down', kb], env);
    }
  });

  test("the lab's host sysctls, host iptables rules and processes live in the instance's world; down stops them", async () => {
    const before = take();
    const u = uid();
    const key = `hostish@${u}`;
    const file = labFile(
      state.dir,
      `hostish-${u}`,
      `name: hostish
nodes:
  ns1:
    processes: [sleep 600]
  ns2: {}
bridges:
  br1: {addresses: 10.9.0.254/24}
links:
  - endpoints: [ns1:eth0, br1:p1]
    addresses: {ns1: 10.9.0.1/24}
  - endpoints: [ns2:eth0, br1:p2]
    addresses: {ns2: 10.9.0.2/24}
host:
  sysctls: {net.ipv4.ip_forward: 1}
  iptables: {filter: {FORWARD: [-i br1 -o br1 -j ACCEPT]}}
checks:
  - ping: {from: ns1, to: 10.9.0.2}
  - ping: {from: ns1, to: 10.9.0.254}
`,
    );
    try {
      const up = netlab(['up', file, '--instance', u], env);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      // In the world: the host sysctl, the tagged rule, the bridge; in the root namespace: none of them.
      const w = spawnSyncInput(['shell', key], 'cat /proc/sys/net/ipv4/ip_forward; iptables -S FORWARD; ip -br addr show br1; pgrep -f "^sleep 600$" | wc -l\n');
      assert.match(w.out, /^1$/m, w.out);
      assert.match(w.out, /-A FORWARD -i br1 -o br1 .*netlab:hostish.* -j ACCEPT/, w.out);
      assert.match(w.out, /br1 .*10\.9\.0\.254\/24/, w.out);
      assert.deepEqual(compare(before, take()), [], 'the root namespace changed while the instance is up');
      const logs = netlab(['logs', key], env);
      assert.equal(logs.code, 0, logs.stdout + logs.stderr);
      const tr = netlab(['trace', key, '--from', 'ns1', '--to', '10.9.0.2'], env);
      assert.equal(tr.code, 0, tr.stdout + tr.stderr);
      assert.match(tr.stdout, /probe answered/);
      const sleeper = JSON.parse(readFileSync(join(state.dir, 'instances', key, 'state', 'labs', 'hostish.json'), 'utf8')) as { processes?: Record<string, { pid: number }> };
      const pids = Object.values(sleeper.processes ?? {}).map((p) => p.pid);
      assert.equal(pids.length, 1, JSON.stringify(sleeper));
      const d = netlab(['down', key], env);
      assert.equal(d.code, 0, d.stdout + d.stderr);
      assert.match(d.stdout, /stopped [1-9]\d* process/);
      const dead = () => {
        try {
          return / Z /.test(readFileSync(`/proc/${pids[0]}/stat`, 'utf8').replace(/^.*\)/, ')'));
        } catch {
          return true;
        }
      };
      assert.ok(await waitFor(dead, 3000), `the lab process outlived down: ${existsSync(`/proc/${pids[0]}`) ? readFileSync(`/proc/${pids[0]}/stat`, 'utf8') : ''}`);
      assert.deepEqual(residue(), []);
      assert.deepEqual(compare(before, take()), [], 'the root namespace changed');
    } finally {
      netlab(['down', key], env);
    }
  });

  test('kill -9 of netlab (and netlab inside the world) during up: down or gc leaves nothing', async () => {
    const before = take();
    const u = uid();
    // Delays after the instance's directory appears: while the world is made, while the lab is.
    const delays = [0, 40, 150, 400, 900];
    const byGc: number[] = [];
    for (const [i, delay] of delays.entries()) {
      const name = `${u}k${i}`;
      const key = `bridge-4ns@${name}`;
      const up = start(['up', LAB, '--instance', name]);
      await waitFor(() => existsSync(join(state.dir, 'instances', key)) || up.child.exitCode !== null, 20_000, 2);
      await new Promise((r) => setTimeout(r, delay));
      try {
        process.kill(-up.child.pid!, 'SIGKILL');
      } catch {
        // finished already
      }
      await up.done;
      // gc removes a world with no lab in it (killed while being made, or before the lab's
      // journal); down removes the rest, from the lab's journal inside.
      const g = netlab(['gc'], env);
      assert.equal(g.code, 0, `gc after kill at +${delay} ms: ${g.stdout}${g.stderr}`);
      const gone = !existsSync(join(state.dir, 'instances', key));
      if (gone) byGc.push(delay);
      const d = netlab(['down', key], env);
      assert.equal(d.code, 0, `down after kill at +${delay} ms: ${d.stdout}${d.stderr}`);
      if (gone) assert.match(d.stderr, /is not up/);
      assert.deepEqual(residue(), [], `after kill at +${delay} ms, gc and down: ${g.stdout}${d.stdout}${d.stderr}`);
    }
    assert.ok(byGc.length > 0, 'no kill landed before the lab began: gc removed no world');
    // A world whose files were unbound (as after a reboot, with the state directory on disk) is
    // stale: status says so, gc removes what is left of it.
    const stale = `bridge-4ns@${u}st`;
    assert.equal(netlab(['up', LAB, '--instance', `${u}st`, '--no-checks'], env).code, 0);
    const dir = join(state.dir, 'instances', stale);
    for (const f of ['net', 'mnt']) assert.equal(spawnSync('umount', [join(dir, f)]).status, 0);
    assert.match(netlab(['status'], env).stdout, new RegExp(`^${stale} .*its world is gone`, 'm'));
    assert.equal(netlab(['exec', stale, 'ns1', '--', 'true'], env).code, 3);
    const g = netlab(['gc'], env);
    assert.match(g.stdout, new RegExp(`world of instance ${stale}`), g.stdout + g.stderr);
    assert.deepEqual(residue(), []);
    assert.deepEqual(compare(before, take()), [], 'the root namespace changed');
  });
});

/** netlab with this standard input (not a terminal: a shell reads its commands from it). */
function spawnSyncInput(args: string[], input: string): { code: number; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input, env: { ...process.env, ...env, SHELL: '/bin/sh' }, timeout: 60_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}
