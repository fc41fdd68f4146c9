// Lab features that need a full kernel: netem impairments, 802.1q VLANs, VRFs with dummies, bonds.
// On a kernel without them every test here is skipped with the missing feature printed; in the
// Vagrant VM (vagrant/ci sets NETLAB_REQUIRE_FULL_KERNEL=1) a missing feature is a failure.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LABS, netlab, ping, sh, stateDir, tryRun } from '../lib/host.js';
import { compare, snapshot } from '../lib/snapshot.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };
const required = process.env.NETLAB_REQUIRE_FULL_KERNEL === '1';

/** The features doctor found (each tried for real), probed once. */
let features: Map<string, { status: string; detail: string }>;

/** Skips (printing why) or, in the full-kernel VM, fails when a feature is missing. */
function need(t: TestContext, ...wanted: string[]): boolean {
  const missing = wanted.filter((f) => features.get(f)?.status !== 'ok');
  if (!missing.length) return true;
  const why = `this kernel lacks ${missing.map((f) => `${f} (${features.get(f)?.detail ?? 'not probed'})`).join(', ')}`;
  if (required) assert.fail(`NETLAB_REQUIRE_FULL_KERNEL=1 but ${why}`);
  console.log(`# SKIP ${t.name}: ${why}; runs in the Vagrant VM (vagrant/ci)`);
  t.skip(why);
  return false;
}

/** Round-trip times of `count` pings, in ms. */
function rtts(ns: string, addr: string, count = 5): number[] {
  const out = sh('ip', ['netns', 'exec', ns, 'ping', '-c', String(count), '-i', '0.2', '-W', '3', addr]);
  return [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

function upOk(lab: string, ...extra: string[]): void {
  const up = netlab(['up', join(LABS, `${lab}.yaml`), ...extra], env);
  assert.equal(up.code, 0, `up ${lab} failed or a check was not met:\n${up.stdout}${up.stderr}`);
  const plan = netlab(['plan', join(LABS, `${lab}.yaml`), '--detailed-exitcode'], env);
  assert.equal(plan.code, 0, `a second run of ${lab} would change something (the kernel's view does not read back as the file):\n${plan.stdout}${plan.stderr}`);
}

function downOk(lab: string): void {
  const r = netlab(['down', lab], env);
  assert.equal(r.code, 0, `down ${lab}: ${r.stdout}${r.stderr}`);
}

describe('full-kernel lab features', () => {
  let hostBefore: ReturnType<typeof snapshot>;
  before(() => {
    const d = netlab(['doctor', '--json']);
    const report = JSON.parse(d.stdout) as { features: { feature: string; status: string; detail: string }[] };
    features = new Map(report.features.map((f) => [f.feature, f]));
    hostBefore = snapshot();
  });
  after(() => {
    assert.deepEqual(compare(hostBefore, snapshot()), [], 'the full-kernel labs leave the root namespace as it was');
    state.cleanup();
  });

  test('netem: a 100 ms delay shows in the RTT; impair changes it at runtime; up restores the file', (t) => {
    if (!need(t, 'netem', 'tbf')) return;
    try {
      upOk('netem-wan');
      const base = rtts('site-a', '198.51.100.2');
      assert.equal(base.length, 5, 'every ping answered');
      assert.ok(Math.min(...base) >= 100, `RTT with delay: 100ms is at least 100 ms: ${base.join(', ')}`);
      assert.match(sh('tc', ['-n', 'site-b', 'qdisc', 'show', 'dev', 'wan0']), /tbf .*rate 10Mbit/);
      // At runtime: 50 ms more on the way back.
      const imp = netlab(['impair', 'netem-wan', 'site-b:wan0', '--delay', '50ms', '--rate', '10mbit'], env);
      assert.equal(imp.code, 0, imp.stderr);
      const slower = rtts('site-a', '198.51.100.2');
      assert.ok(Math.min(...slower) >= 150, `after impair, RTT is at least 150 ms: ${slower.join(', ')}`);
      const plan = netlab(['plan', join(LABS, 'netem-wan.yaml'), '--detailed-exitcode'], env);
      assert.equal(plan.code, 2, 'the runtime change is drift');
      assert.match(plan.stdout, /impairment on site-b:wan0: tbf rate 10mbit {2}\(is netem delay 50ms rate 10mbit( limit 1000)?\)/);
      upOk('netem-wan');
      const back = rtts('site-a', '198.51.100.2');
      // The least RTT proves it: with the extra 50 ms no ping can come back under 150 ms, while a
      // hiccup of the emulated VM can only make a ping slower.
      assert.ok(Math.min(...back) < 150, `up restored the file's impairments: ${back.join(', ')}`);
      // Editing the lab in place: loss 100% on site-a cuts the link without re-creating anything.
      assert.equal(netlab(['impair', 'netem-wan', 'site-a:wan0', '--delay', '100ms', '--loss', '100%'], env).code, 0);
      assert.equal(ping('site-a', '198.51.100.2'), false, 'loss 100% drops everything');
    } finally {
      downOk('netem-wan');
    }
  });

  test('vlan: traffic passes only between interfaces with the same tag', (t) => {
    if (!need(t, 'vlan')) return;
    try {
      upOk('vlan-trunk');
      assert.ok(ping('vl-h1', '10.10.0.2'), 'VLAN 10 <-> VLAN 10');
      assert.ok(ping('vl-h3', '10.20.0.2'), 'VLAN 20 <-> VLAN 20');
      assert.equal(ping('vl-h1', '10.10.0.3'), false, 'VLAN 10 never reaches VLAN 20, same subnet or not');
      const d = JSON.parse(sh('ip', ['-n', 'vl-h2', '-j', '-d', 'link', 'show', 'eth0.20'])) as { linkinfo: { info_data: { id: number } } }[];
      assert.equal(d[0]!.linkinfo.info_data.id, 20);
    } finally {
      downOk('vlan-trunk');
    }
  });

  test('vrf + dummy: each customer reaches its own VRF only; the static route is in the VRF table', (t) => {
    if (!need(t, 'vrf', 'dummy')) return;
    try {
      upOk('vrf-lite');
      assert.ok(ping('cust-red', '10.255.1.1'), "red reaches red's loopback");
      assert.equal(ping('cust-blue', '10.255.1.1'), false, 'blue does not');
      assert.match(sh('ip', ['-n', 'pe', 'route', 'show', 'table', '10']), /10\.1\.99\.0\/24 via 10\.1\.0\.2 dev to-red/);
      assert.doesNotMatch(sh('ip', ['-n', 'pe', 'route', 'show']), /10\.1\.99\.0/, 'the main table does not have it');
      assert.equal(tryRun('ip', ['netns', 'exec', 'pe', 'ping', '-c1', '-W2', '-I', 'red', '10.1.99.1']).code, 0);
    } finally {
      downOk('vrf-lite');
    }
  });

  test('bond: ping survives the active link going down; up puts it back', (t) => {
    if (!need(t, 'bond')) return;
    try {
      upOk('bond-veth');
      assert.ok(ping('bd-a', '10.3.0.2'));
      sh('ip', ['-n', 'bd-a', 'link', 'set', 'eth0', 'down']);
      let ok = false;
      for (let i = 0; i < 20 && !ok; i++) ok = ping('bd-a', '10.3.0.2');
      assert.ok(ok, 'the bond fails over to eth1');
      assert.match(sh('ip', ['netns', 'exec', 'bd-a', 'cat', '/proc/net/bonding/bond0']), /Currently Active Slave: eth1/);
      const plan = netlab(['plan', join(LABS, 'bond-veth.yaml')], env);
      assert.match(plan.stdout, /link bd-a:eth0 up {2}\(was down\)/);
      // Changed by hand inside a namespace up made: a plain up reads it and puts it back.
      upOk('bond-veth');
    } finally {
      downOk('bond-veth');
    }
  });
});
