// netlab doctor on the real kernel: its verdicts agree with checks this test makes itself, in its
// own namespace (so it holds here, where netem, 802.1q, VRF, dummy and bonding are missing, and in a
// full-kernel VM where they exist); no probe namespace is left; the host's root namespace is untouched.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI, isRoot, netnsList, tryRun, uid } from '../lib/host.js';
import { compare, snapshot } from '../lib/snapshot.js';

interface DoctorJson {
  ok: boolean;
  kernel: string;
  featuresProbed: boolean;
  probeMs?: number;
  tools: { name: string; ok: boolean; required: boolean; version?: string; backend?: string; fix?: { debian: string; fedora: string } }[];
  privileges: { ok: boolean; root: boolean };
  features: { feature: string; title: string; status: string; required: boolean; detail: string; module: string; kconfig: string; text?: string; tool?: string }[];
  missingRequired: string[];
  notProbed: string[];
}

function doctor(args: string[], prefix: string[] = []) {
  const argv = [...prefix, process.execPath, CLI, 'doctor', ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, pid: r.pid };
}

/** The test's own verdict, made its own way in its own namespace (not doctor's commands or names). */
const OWN: Record<string, (ns: string) => string[][]> = {
  netem: (ns) => [['tc', '-n', ns, 'qdisc', 'replace', 'dev', 'xa', 'root', 'netem', 'loss', '1%']],
  vlan: (ns) => [['ip', '-n', ns, 'link', 'add', 'link', 'xa', 'name', 'xa.20', 'type', 'vlan', 'protocol', '802.1Q', 'id', '20']],
  dummy: (ns) => [['ip', '-n', ns, 'link', 'add', 'xdummy', 'type', 'dummy']],
  vrf: (ns) => [['ip', '-n', ns, 'link', 'add', 'xvrf', 'type', 'vrf', 'table', '77']],
  bond: (ns) => [['ip', '-n', ns, 'link', 'add', 'xbond', 'type', 'bond', 'mode', 'active-backup']],
};

function ownVerdicts(): Map<string, boolean> {
  const ns = `nltd-${uid()}`;
  const out = new Map<string, boolean>();
  // Loading dummy/bonding with their defaults would make dummy0/bond0 in the host namespace.
  tryRun('modprobe', ['-q', 'dummy', 'numdummies=0']);
  tryRun('modprobe', ['-q', 'bonding', 'max_bonds=0']);
  assert.equal(tryRun('ip', ['netns', 'add', ns]).code, 0);
  try {
    assert.equal(tryRun('ip', ['-n', ns, 'link', 'add', 'xa', 'type', 'veth', 'peer', 'name', 'xb']).code, 0);
    for (const [f, cmds] of Object.entries(OWN))
      out.set(
        f,
        cmds(ns).every(([cmd, ...args]) => tryRun(cmd!, args).code === 0),
      );
  } finally {
    tryRun('ip', ['netns', 'del', ns]);
  }
  assert.ok(!netnsList().includes(ns));
  return out;
}

/** The root namespace without its running timers (a host bridge's gc_timer ticks on its own). */
function hostState(): Record<string, string> {
  return Object.fromEntries(Object.entries(snapshot()).map(([k, v]) => [k, v.replace(/^.*"\w+_timer": [\d.]+,?$/gm, '')]));
}

const probeNamespaces = (pid: number) => netnsList().filter((n) => n.startsWith(`netlab-probe-${pid}-`));

describe('netlab doctor on the real kernel', { skip: !isRoot && 'needs root' }, () => {
  const leftovers: string[] = [];
  after(() => {
    for (const n of leftovers) tryRun('ip', ['netns', 'del', n]);
  });

  test("--json: veth and bridge ok, each optional verdict equals the test's own check, nothing left behind", (t) => {
    const before = hostState();
    const r = doctor(['--json']);
    const afterSnap = hostState();
    const left = probeNamespaces(r.pid);
    leftovers.push(...left);
    assert.deepEqual(left, [], 'no probe namespace left behind');
    assert.deepEqual(compare(before, afterSnap), [], "the host's root namespace is untouched");
    assert.equal(r.stderr, '');
    const j = JSON.parse(r.stdout) as DoctorJson;
    assert.equal(r.code, j.ok ? 0 : 6, 'exit 0 when ready, 6 when not');
    assert.equal(j.featuresProbed, true);
    assert.equal(j.privileges.ok, true);
    const by = new Map(j.features.map((f) => [f.feature, f]));
    assert.equal(by.get('veth')!.status, 'ok');
    assert.equal(by.get('bridge')!.status, 'ok');
    // The tools this suite itself needs are there, so netlab is ready here.
    assert.deepEqual(j.missingRequired, []);
    assert.equal(r.code, 0);
    const own = ownVerdicts();
    for (const [f, ok] of own) {
      const d = by.get(f)!;
      assert.equal(d.status, ok ? 'ok' : 'missing', `${f}: doctor says ${d.status} (${d.detail}), the test's own check says ${ok ? 'present' : 'absent'}`);
      if (!ok) {
        assert.match(d.text!, new RegExp(`^this kernel lacks .*\\(module ${d.module}, ${d.kconfig}\\).*; fix: Debian/Ubuntu: modprobe .*Fedora: .*custom kernel: ${d.kconfig}=m$`));
        assert.ok(d.detail.length > 0, `${f}: the kernel's own words`);
      }
    }
    // How long the probe took is a measurement, not a pass/fail criterion (an emulated VM
    // is many times slower than the host): report it, and check only that it was measured.
    assert.ok(Number.isFinite(j.probeMs) && j.probeMs! >= 0, `probeMs: ${j.probeMs}`);
    t.diagnostic(`probe of ${j.features.length} features took ${j.probeMs} ms`);
    const ip = j.tools.find((t) => t.name === 'ip')!;
    assert.match(ip.version!, /^iproute2-/);
    const ipt = j.tools.find((t) => t.name === 'iptables')!;
    assert.match(ipt.backend!, /^(nf_tables|legacy)$/);
  });

  test('the table: every section, optional missing features named with their fix, no stack trace', () => {
    const r = doctor([]);
    leftovers.push(...probeNamespaces(r.pid));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^netlab doctor: kernel \S+ \(uname -r\)/);
    for (const s of ['\ntools\n', '\nprivileges\n', '\nkernel features (each tried for real']) assert.ok(r.stdout.includes(s), s);
    assert.match(r.stdout, /ok +veth pairs +required/);
    assert.match(r.stdout, /verdict: ready/);
    const j = JSON.parse(doctor(['--json']).stdout) as DoctorJson;
    for (const f of j.features.filter((x) => x.status === 'missing')) {
      assert.match(r.stdout, new RegExp(`MISSING +${f.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +optional`));
      // Not tried for want of its tool: the fix is the tool, not the kernel.
      if (f.tool) {
        assert.ok(r.stdout.includes(`fix: install ${f.tool} (see tools above)`), `${f.feature}: ${f.tool}`);
        continue;
      }
      assert.ok(
        r.stdout.includes(
          `custom kernel: ${f.kconfig
            .split(', ')
            .map((k) => `${k}=m`)
            .join(', ')}`,
        ),
        f.feature,
      );
    }
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at .*\(.*:\d+:\d+\)/);
  });

  const setpriv = tryRun('setpriv', ['--version']).code === 0;
  test('without root: tools reported, kernel features not probed (needs root), exit 6', { skip: !setpriv && 'setpriv (util-linux) not installed' }, () => {
    const before = netnsList();
    const r = doctor(['--json'], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    assert.equal(r.code, 6, r.stderr);
    const j = JSON.parse(r.stdout) as DoctorJson;
    assert.equal(j.ok, false);
    assert.equal(j.privileges.ok, false);
    assert.equal(j.featuresProbed, false);
    assert.deepEqual(j.missingRequired, ['privileges']);
    assert.ok(j.features.every((f) => f.status === 'not probed'));
    assert.ok(j.tools.find((t) => t.name === 'ip')!.ok);
    assert.deepEqual(netnsList(), before);
    const t = doctor([], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    assert.equal(t.code, 6);
    assert.match(t.stdout, /not probed: trying them needs root/);
    assert.match(t.stdout, /verdict: NOT ready \(exit 6\): required and missing: privileges/);
  });

  test('a command without root exits 1 and says how to run it with sudo, also after an nvm install', { skip: !setpriv && 'setpriv (util-linux) not installed' }, () => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'down', 'x'], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^error: netlab down needs root: .*\n {2}hint: sudo netlab down \.\.\. \(if sudo then says 'command not found'.*sudo env "PATH=\$PATH" netlab down \.\.\.\)/);
  });
});
