// doctor with a scripted runner: probe results -> verdicts, the probe namespace always goes,
// error wording, tool versions and fix hints, privileges from /proc/self/status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_FEATURES, FEATURES, NFT_TRACE_PROBE } from '../../src/doctor/features.js';
import { ProbeError, missingFeatureText, probeFeatures } from '../../src/doctor/probe.js';
import { doctor, formatDoctor, probeNetns } from '../../src/doctor/report.js';
import { TOOLS, parseIptablesVersion, parseToolVersion, probeTools } from '../../src/doctor/tools.js';
import { probePrivileges } from '../../src/privileges.js';
import type { Feature } from '../../src/model/features.js';
import { EXIT } from '../../src/core/errors.js';
import type { BytesResult, CommandRunner, RunOptions, RunResult } from '../../src/runner/runner.js';
import { ScriptedRunner } from '../lib/scripted-runner.js';
import { fakeFiles } from '../lib/fixtures.js';

const NS = 'netlab-probe-1-abc';

/** A kernel like this machine's: no netem, 802.1q, VRF, dummy, bonding, WireGuard. */
function kernel(missing = new Set(['netem', 'vlan', 'vrf', 'dummy', 'bond', 'wireguard'])) {
  return (argv: string[]): Partial<RunResult> => {
    const text = argv.join(' ');
    const kind = /\btype (\w+)/.exec(text)?.[1];
    if (argv[0] === 'ip' && argv[1] === '-n' && kind && missing.has(kind)) return { exitCode: 2, stderr: 'Error: Unknown device type.\n' };
    if (argv[0] === 'tc') {
      const q = ['netem', 'tbf', 'htb'].find((k) => argv.includes(k))!;
      if (missing.has(q)) return { exitCode: 2, stderr: 'Error: Specified qdisc kind is unknown.\n' };
    }
    if (text.includes('TPROXY') && missing.has('tproxy'))
      return { exitCode: 2, stderr: 'Warning: Extension TPROXY revision 0 not supported, missing kernel module?\niptables: No chain/target/match by that name.\n' };
    return { exitCode: 0 };
  };
}

const scripted = (reply = kernel()) => new ScriptedRunner().on('ip netns add', {}).on('ip netns del', {}).on('', reply);

/** Every command but netns add/del and modprobe must be aimed at the probe namespace. */
function assertConfined(calls: { argv: string[] }[], ns: string) {
  for (const { argv } of calls) {
    const t = argv.join(' ');
    if (t === `ip netns add ${ns}` || t === `ip netns del ${ns}` || argv[0] === 'modprobe') continue;
    assert.ok(t.startsWith(`ip -n ${ns} `) || t.startsWith(`tc -n ${ns} `) || t.startsWith(`ip netns exec ${ns} `), `not confined to the probe namespace: ${t}`);
  }
}

test('probe results become verdicts, each feature on its own', async () => {
  const r = scripted();
  const m = await probeFeatures(r, ALL_FEATURES, { namespace: NS });
  const missing = ALL_FEATURES.filter((f) => !m.get(f)!.ok);
  assert.deepEqual(missing.sort(), ['bond', 'dummy', 'netem', 'vlan', 'vrf', 'wireguard']);
  assert.equal(m.get('netem')!.detail, 'Error: Specified qdisc kind is unknown.');
  assert.equal(m.get('vlan')!.detail, 'Error: Unknown device type.');
  assert.equal(m.get('veth')!.detail, 'created a veth pair');
  assert.equal(m.get('tbf')!.ok, true);
  assert.deepEqual([...m.keys()], ALL_FEATURES, 'answers in the order asked');
  // One namespace, created first and deleted last; nothing aimed at the host.
  assert.deepEqual(r.calls[0]!.argv, ['ip', 'netns', 'add', NS]);
  assert.deepEqual(r.calls.at(-1)!.argv, ['ip', 'netns', 'del', NS]);
  assert.equal(r.calls.filter((c) => c.argv[1] === 'netns' && c.argv[2] === 'add').length, 1);
  assertConfined(r.calls, NS);
  // The nft trace probe really sets nftrace; dummy/bonding are preloaded without default devices.
  assert.equal(r.calls.find((c) => c.argv.includes('nft'))!.input, NFT_TRACE_PROBE);
  assert.match(NFT_TRACE_PROBE, /meta nftrace set 1/);
  assert.ok(r.calls.some((c) => c.argv.join(' ') === 'modprobe -q dummy numdummies=0'));
  assert.ok(r.calls.some((c) => c.argv.join(' ') === 'modprobe -q bonding max_bonds=0'));
});

test('a full kernel: every feature ok; a failing modprobe changes nothing', async () => {
  const r = new ScriptedRunner().on('modprobe', { exitCode: 127, stderr: 'modprobe: command not found' }).on('', kernel(new Set()));
  const m = await probeFeatures(r, ALL_FEATURES, { namespace: NS });
  assert.ok(
    [...m.values()].every((p) => p.ok),
    JSON.stringify([...m]),
  );
});

test('the default namespace name is netlab-probe-<pid>-<random>, and differs per call', async () => {
  const a = scripted();
  const b = scripted();
  await probeFeatures(a, ['veth']);
  await probeFeatures(b, ['veth']);
  const nameA = a.calls[0]!.argv[3]!;
  assert.match(nameA, new RegExp(`^netlab-probe-${process.pid}-[0-9a-f]{6}$`));
  assert.notEqual(nameA, b.calls[0]!.argv[3]);
  assert.deepEqual(a.calls.at(-1)!.argv, ['ip', 'netns', 'del', nameA]);
});

test('a setup step that fails is named as such (the veth a qdisc goes on)', async () => {
  const r = scripted((argv) => (argv.includes('veth') ? { exitCode: 2, stderr: 'Error: Unknown device type.\n' } : {}));
  const m = await probeFeatures(r, ['netem', 'vlan', 'bridge'], { namespace: NS });
  assert.equal(m.get('netem')!.ok, false);
  assert.match(m.get('netem')!.detail, /^could not create the veth pair pn0\/pn1 the probe puts it on: Error: Unknown device type\.$/);
  assert.equal(m.get('bridge')!.ok, true);
  assert.ok(!r.calls.some((c) => c.argv[0] === 'tc'), 'no qdisc tried without its veth');
});

test('the probe namespace is deleted when a probe command fails', async () => {
  const r = scripted(() => ({ exitCode: 1, stderr: 'RTNETLINK answers: Operation not permitted\n' }));
  const m = await probeFeatures(r, ALL_FEATURES, { namespace: NS });
  assert.ok([...m.values()].every((p) => !p.ok));
  assert.equal(m.get('vrf')!.detail, 'RTNETLINK answers: Operation not permitted');
  assert.deepEqual(r.calls.at(-1)!.argv, ['ip', 'netns', 'del', NS]);
});

/** A runner whose probe commands throw (a bug, ENOMEM, ...): answers after a delay so others are still running. */
class ThrowingRunner implements CommandRunner {
  readonly calls: string[] = [];
  constructor(private throwOn: (argv: string[]) => boolean) {}
  async run(argv: string[], _opts?: RunOptions): Promise<RunResult> {
    this.calls.push(argv.join(' '));
    await new Promise((res) => setTimeout(res, argv.includes('TPROXY') ? 1 : 5));
    if (this.throwOn(argv)) throw new Error('spawn ENOMEM');
    return { stdout: '', stderr: '', exitCode: 0 };
  }
  async spawnDetached(): Promise<{ pid: number }> {
    return { pid: 0 };
  }
  async foreground(): Promise<number> {
    return 0;
  }
  async runBytes(): Promise<BytesResult> {
    return { stdout: Buffer.alloc(0), stderr: '', exitCode: 0 };
  }
}

test('the probe namespace is deleted when a probe command throws, after every other probe finished', async () => {
  const r = new ThrowingRunner((argv) => argv.includes('TPROXY'));
  await assert.rejects(probeFeatures(r, ALL_FEATURES, { namespace: NS }), /spawn ENOMEM/);
  assert.equal(r.calls.at(-1), `ip netns del ${NS}`);
  assert.equal(r.calls.filter((c) => c.startsWith('ip netns del')).length, 1);
  // Every feature was still tried (nothing ran in a namespace that was already gone).
  assert.ok(r.calls.some((c) => c.includes('type wireguard')));
});

test('a namespace that cannot be created: ProbeError (exit 6), nothing else run, nothing to delete', async () => {
  const r = new ScriptedRunner().on('ip netns add', { exitCode: 1, stderr: 'mount --make-shared /run/netns failed: Operation not permitted\n' });
  const e = await probeFeatures(r, ['veth'], { namespace: NS }).then(
    () => assert.fail('should refuse'),
    (x: unknown) => x,
  );
  assert.ok(e instanceof ProbeError);
  assert.equal(e.code, EXIT.unsupported);
  assert.match(e.message, /could not create the probe namespace netlab-probe-1-abc: mount --make-shared \/run\/netns failed: Operation not permitted/);
  assert.match(e.hint!, /needs root/);
  assert.equal(r.calls.length, 1);
});

test('a namespace that will not go away is an error naming it and how to remove it', async () => {
  const r = new ScriptedRunner().on('ip netns del', { exitCode: 1, stderr: 'Cannot remove namespace file: Device or resource busy\n' });
  await assert.rejects(probeFeatures(r, ['bridge'], { namespace: NS }), (e: ProbeError) => {
    assert.match(e.message, /could not delete the probe namespace netlab-probe-1-abc: Cannot remove namespace file/);
    assert.equal(e.hint, 'remove it by hand: ip netns del netlab-probe-1-abc');
    return true;
  });
  assert.equal(r.calls.filter((c) => c.argv[2] === 'del').length, 2, 'tried twice');
});

test('no features asked: nothing runs', async () => {
  const r = scripted();
  assert.equal((await probeFeatures(r, [])).size, 0);
  assert.equal(r.calls.length, 0);
});

test('a tool missing inside the namespace is not blamed on the kernel', async () => {
  const r = scripted((argv) => {
    if (argv.includes('nft')) return { exitCode: 255, stderr: 'exec of "nft" failed: No such file or directory\n' };
    if (argv.includes('iptables')) return { exitCode: 127, stderr: 'iptables: command not found' };
    if (argv[0] === 'tc') return { exitCode: 127 };
    return {};
  });
  const m = await probeFeatures(r, ['nft-trace', 'tproxy', 'conntrack', 'tbf'], { namespace: NS });
  assert.deepEqual(m.get('nft-trace'), { ok: false, tool: 'nft', detail: 'cannot be tried: nft is not installed' });
  assert.equal(m.get('tproxy')!.tool, 'iptables');
  assert.equal(m.get('conntrack')!.tool, 'iptables');
  assert.equal(m.get('tbf')!.tool, 'tc');
  assert.equal(
    missingFeatureText('nft-trace', m.get('nft-trace')!),
    'cannot check for nftables rule tracing (meta nftrace) (needed by netlab trace and trace checks): nft is not installed; fix: Debian/Ubuntu: apt-get install nftables; Fedora: dnf install nftables',
  );
  assert.match(missingFeatureText('tbf', m.get('tbf')!), /tc is not installed; fix: Debian\/Ubuntu: apt-get install iproute2; Fedora: dnf install iproute-tc$/);
});

test('missingFeatureText names the feature, the module, the kernel option, what needs it and the fix', () => {
  const t = missingFeatureText('vlan', { ok: false, detail: 'Error: Unknown device type.' });
  assert.equal(
    t,
    'this kernel lacks 802.1q VLAN (module 8021q, CONFIG_VLAN_8021Q), needed by nodes.*.interfaces with type: vlan (labs/vlan-trunk.yaml): Error: Unknown device type.; ' +
      'fix: Debian/Ubuntu: modprobe 8021q (Debian: the module is in linux-image-amd64; Ubuntu: apt-get install linux-modules-extra-$(uname -r), then modprobe 8021q); ' +
      'Fedora: dnf install kernel-modules-extra, then modprobe 8021q; custom kernel: CONFIG_VLAN_8021Q=m',
  );
  const n = missingFeatureText('netem', { ok: false, detail: 'Error: Specified qdisc kind is unknown.' });
  assert.match(n, /^this kernel lacks netem \(delay, jitter, loss\) \(module sch_netem, CONFIG_NET_SCH_NETEM\), needed by link impairments delay, jitter and loss/);
  assert.match(
    n,
    /: Error: Specified qdisc kind is unknown\.; fix: Debian\/Ubuntu: modprobe sch_netem .*Fedora: dnf install kernel-modules-extra, then modprobe sch_netem; custom kernel: CONFIG_NET_SCH_NETEM=m$/,
  );
  assert.doesNotMatch(n, /\n/, 'one line');
  const c = missingFeatureText('conntrack', { ok: false, detail: 'x' });
  assert.match(c, /modprobe xt_conntrack/);
  assert.match(c, /custom kernel: CONFIG_NF_CONNTRACK=m, CONFIG_NETFILTER_XT_MATCH_CONNTRACK=m$/);
});

test('every feature has a title, module, kernel option, user and fixes', () => {
  for (const f of ALL_FEATURES) {
    const i = FEATURES[f];
    assert.equal(i.feature, f);
    assert.match(i.kconfig, /^CONFIG_/);
    assert.ok(i.title && i.module && i.usedBy && i.fix.debian && i.fix.fedora, f);
    assert.match(i.fix.debian, /modprobe/);
    assert.match(i.fix.fedora, /dnf install kernel-modules-extra/);
  }
  assert.deepEqual(
    ALL_FEATURES.filter((f) => FEATURES[f].required),
    ['veth', 'bridge'],
    'every lab needs veth and bridge; the others only the labs that use them',
  );
  assert.equal(FEATURES.netem.title, 'netem (delay, jitter, loss)');
  assert.equal(FEATURES.netem.module, 'sch_netem');
  assert.equal(FEATURES.netem.kconfig, 'CONFIG_NET_SCH_NETEM');
});

test('iptables -V: version and backend, nf_tables and legacy', () => {
  assert.deepEqual(parseIptablesVersion('iptables v1.8.9 (nf_tables)\n'), { version: '1.8.9', backend: 'nf_tables' });
  assert.deepEqual(parseIptablesVersion('iptables v1.8.7 (legacy)\n'), { version: '1.8.7', backend: 'legacy' });
  assert.deepEqual(parseIptablesVersion('iptables-restore v1.8.10 (nf_tables)'), { version: '1.8.10', backend: 'nf_tables' });
  assert.deepEqual(parseIptablesVersion('iptables v1.6.1\n'), { version: '1.6.1', backend: 'legacy' }, 'before 1.8 there was only legacy');
  assert.deepEqual(parseIptablesVersion('garbage'), {});
});

test('other tools: the version in the words people search for', () => {
  assert.equal(parseToolVersion('ip', 'ip utility, iproute2-6.1.0, libbpf 1.1.2\n'), 'iproute2-6.1.0');
  assert.equal(parseToolVersion('ip', 'ip utility, iproute2-ss200127\n'), 'iproute2-ss200127');
  assert.equal(parseToolVersion('tc', 'tc utility, iproute2-6.1.0, libbpf 1.1.2\n'), 'iproute2-6.1.0');
  assert.equal(parseToolVersion('bridge', 'bridge utility, 6.1.0\n'), '6.1.0');
  assert.equal(parseToolVersion('ping', 'ping from iputils 20221126\nlibcap: yes'), 'iputils 20221126');
  assert.equal(parseToolVersion('ping', 'ping utility, iputils-s20180629\n'), 'iputils-s20180629');
  assert.equal(parseToolVersion('nft', 'nftables v1.0.6 (Lester Gooch #5)\n'), '1.0.6');
  assert.equal(parseToolVersion('tcpdump', 'tcpdump version 4.99.3\nlibpcap version 1.10.3'), '4.99.3');
  assert.equal(parseToolVersion('socat', 'socat by Gerhard Rieger\nsocat version 1.7.4.4 on 06 Nov 2022'), '1.7.4.4');
  assert.equal(parseToolVersion('conntrack', 'conntrack v1.4.7 (conntrack-tools)\n'), '1.4.7');
  assert.equal(parseToolVersion('python3', 'Python 3.11.7\n'), '3.11.7');
  assert.equal(parseToolVersion('sysctl', 'sysctl from procps-ng 4.0.2\n'), 'procps-ng 4.0.2');
  assert.equal(parseToolVersion('nsenter', 'nsenter from util-linux 2.38.1\n'), 'util-linux 2.38.1');
});

const VERSIONS: Record<string, Partial<RunResult>> = {
  'ip -V': { stdout: 'ip utility, iproute2-6.1.0, libbpf 1.1.2\n' },
  'iptables -V': { stdout: 'iptables v1.8.7 (legacy)\n' },
  'iptables-restore -V': { stdout: 'iptables-restore v1.8.7 (legacy)\n' },
  'iptables-save -V': { stdout: 'iptables-save v1.8.7 (legacy)\n' },
  'ping -V': { stdout: 'ping from iputils 20221126\n' },
  'sysctl -V': { stdout: 'sysctl from procps-ng 4.0.2\n' },
  'nsenter --version': { stdout: 'nsenter from util-linux 2.38.1\n' },
};

test('probeTools: found with version and backend; missing (exit 127) with the packages to install', async () => {
  const r = new ScriptedRunner({ exitCode: 127, stderr: 'command not found' });
  for (const [cmd, reply] of Object.entries(VERSIONS)) r.on(cmd, reply);
  const tools = await probeTools(r);
  assert.deepEqual(
    tools.map((t) => t.name),
    TOOLS.map((t) => t.name),
  );
  const by = new Map(tools.map((t) => [t.name, t]));
  assert.deepEqual({ ...by.get('iptables') }, { name: 'iptables', required: true, usedBy: 'iptables fields, host rules', ok: true, version: '1.8.7', backend: 'legacy', detail: '1.8.7 (legacy)' });
  assert.equal(by.get('ip')!.version, 'iproute2-6.1.0');
  assert.equal(by.get('ip')!.backend, undefined);
  const nft = by.get('nft')!;
  assert.equal(nft.ok, false);
  assert.equal(nft.required, false);
  assert.equal(nft.detail, 'not installed');
  assert.deepEqual(nft.fix, { debian: 'apt-get install nftables', fedora: 'dnf install nftables' });
  assert.deepEqual(by.get('conntrack')!.fix, { debian: 'apt-get install conntrack', fedora: 'dnf install conntrack-tools' });
  assert.deepEqual(by.get('tcpdump')!.fix, { debian: 'apt-get install tcpdump', fedora: 'dnf install tcpdump' });
  assert.deepEqual(by.get('tc')!.fix, { debian: 'apt-get install iproute2', fedora: 'dnf install iproute-tc' });
  assert.deepEqual(by.get('socat')!.fix, { debian: 'apt-get install socat', fedora: 'dnf install socat' });
  assert.equal(by.get('ip6tables')!.fix!.debian, 'apt-get install iptables');
  // Required: ip, the iptables tools, nsenter (reads), ping, sysctl; the rest optional.
  assert.deepEqual(
    tools
      .filter((t) => t.required)
      .map((t) => t.name)
      .sort(),
    ['ip', 'iptables', 'iptables-restore', 'iptables-save', 'nsenter', 'ping', 'sysctl'],
  );
});

test('a tool that runs but prints no version it recognises is still found', async () => {
  const r = new ScriptedRunner({ exitCode: 1, stderr: 'ping: invalid option -- V\nBusyBox v1.36.1' });
  const tools = await probeTools(r);
  const ping = tools.find((t) => t.name === 'ping')!;
  assert.equal(ping.ok, true);
  assert.equal(ping.detail, 'version unknown');
});

const status = (capEff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapPrm:\t${capEff}\nCapEff:\t${capEff}\n`;

test('privileges: root, or CAP_NET_ADMIN and CAP_SYS_ADMIN in CapEff', () => {
  const root = probePrivileges(status('000001fffeffffff'), 0);
  assert.equal(root.ok, true);
  assert.equal(root.root, true);
  assert.match(root.detail, /^root \(uid 0\), CAP_NET_ADMIN and CAP_SYS_ADMIN effective$/);
  const user = probePrivileges(status('0000000000000000'), 1000);
  assert.equal(user.ok, false);
  assert.match(user.detail, /uid 1000, not root, without CAP_NET_ADMIN and CAP_SYS_ADMIN .*sudo netlab/);
  // Bits 12 and 21 only: a non-root process given both is enough.
  const caps = probePrivileges(status(((1n << 12n) | (1n << 21n)).toString(16).padStart(16, '0')), 1000);
  assert.equal(caps.ok, true);
  assert.equal(caps.root, false);
  // Root in a container without CAP_SYS_ADMIN cannot create namespaces.
  const boxed = probePrivileges(status((1n << 12n).toString(16).padStart(16, '0')), 0);
  assert.equal(boxed.ok, false);
  assert.equal(boxed.capNetAdmin, true);
  assert.match(boxed.detail, /without CAP_SYS_ADMIN/);
});

const ROOT = probePrivileges(status('000001fffeffffff'), 0);

function machine(missingKernel?: Set<string>) {
  const r = new ScriptedRunner();
  for (const [cmd, reply] of Object.entries(VERSIONS)) r.on(cmd, reply);
  r.on('tcpdump', { exitCode: 127 });
  return r.on('', missingKernel ? kernel(missingKernel) : kernel());
}

test('doctor: ready (exit 0) when only optional things are missing, and says what would not work', async () => {
  const rep = await doctor(machine(), { privileges: ROOT });
  assert.equal(rep.ok, true);
  assert.deepEqual(rep.missingRequired, []);
  assert.deepEqual(rep.missingOptional, ['tcpdump', 'netem', 'vlan', 'vrf', 'dummy', 'bond', 'wireguard']);
  const netem = rep.features.find((f) => f.feature === 'netem')!;
  assert.equal(netem.status, 'missing');
  assert.equal(netem.fix!.customKernel, 'CONFIG_NET_SCH_NETEM=m');
  assert.match(netem.text!, /^this kernel lacks netem/);
  assert.match(rep.notes.join('\n'), /legacy backend: netlab trace/);
  const text = formatDoctor(rep).join('\n');
  assert.match(text, /MISSING {2}netem \(delay, jitter, loss\) +optional {2}link impairments/);
  assert.match(text, /module sch_netem, CONFIG_NET_SCH_NETEM: Error: Specified qdisc kind is unknown\./);
  assert.match(text, /MISSING {2}tcpdump .*optional {2}netlab capture\n +fix: Debian\/Ubuntu: apt-get install tcpdump; Fedora: dnf install tcpdump/);
  assert.match(text, /verdict: ready: .*optional and missing: tcpdump, netem, vlan, vrf, dummy, bond, wireguard/);
  assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
});

test('doctor: not ready when a required feature or tool is missing', async () => {
  const rep = await doctor(machine(new Set(['veth'])), { privileges: ROOT });
  assert.equal(rep.ok, false);
  assert.deepEqual(rep.missingRequired, ['veth']);
  assert.match(formatDoctor(rep).join('\n'), /verdict: NOT ready \(exit 6\): required and missing: veth/);
  const noPing = new ScriptedRunner().on('ping', { exitCode: 127 }).on('', kernel(new Set()));
  const rep2 = await doctor(noPing, { privileges: ROOT });
  assert.deepEqual(rep2.missingRequired, ['ping']);
});

test('doctor without privileges: tools reported, features not probed (no namespace made), not ready', async () => {
  const r = machine();
  const rep = await doctor(r, { privileges: probePrivileges(status('0000000000000000'), 1000) });
  assert.equal(rep.ok, false);
  assert.equal(rep.featuresProbed, false);
  assert.deepEqual(rep.missingRequired, ['privileges']);
  assert.deepEqual(rep.notProbed, ALL_FEATURES);
  assert.ok(rep.features.every((f) => f.status === 'not probed'));
  assert.ok(!r.calls.some((c) => c.argv.includes('netns')), 'no namespace without privileges');
  assert.equal(rep.tools.find((t) => t.name === 'ip')!.version, 'iproute2-6.1.0');
  const text = formatDoctor(rep).join('\n');
  assert.match(text, /kernel features\n {2}not probed: trying them needs root/);
  assert.match(text, /verdict: NOT ready \(exit 6\): required and missing: privileges/);
});

test('only the features asked are probed', async () => {
  const r = scripted();
  const m = await probeFeatures(r, ['vlan', 'vlan', 'tbf'] as Feature[], { namespace: NS });
  assert.deepEqual([...m.keys()], ['vlan', 'tbf']);
  assert.ok(!r.calls.some((c) => c.argv.includes('bridge')));
});

test('doctor when the probe namespace cannot be made: says why, still reports tools, not ready', async () => {
  const failing = new ScriptedRunner().on('ip netns add', { exitCode: 1, stderr: 'mount --make-shared /run/netns failed: Permission denied\n' }).on('', kernel());
  const rep = await doctor(failing, { privileges: ROOT });
  assert.equal(rep.ok, false);
  assert.equal(rep.featuresProbed, false);
  assert.deepEqual(rep.missingRequired, []);
  assert.match(
    rep.notProbedWhy!,
    /^not probed: cannot probe kernel features: could not create the probe namespace netlab-probe-\d+-[0-9a-f]+: mount --make-shared \/run\/netns failed: Permission denied/,
  );
  const text = formatDoctor(rep).join('\n');
  assert.match(text, /kernel features\n {2}not probed: cannot probe kernel features/);
  assert.match(text, /verdict: NOT ready \(exit 6\): required and missing: nothing found missing, but the kernel features could not be probed/);
});

test('doctor says which network namespace it runs in; outside the initial one, module fixes are for the machine itself', async () => {
  assert.equal(probeNetns(true).initial, true);
  const inside = probeNetns(false);
  assert.equal(inside.initial, false);
  assert.match(inside.detail, /^not the initial network namespace \(a container, a CI pod, unshare --net\): labs work the same; host sysctls .*net\.ipv4\.neigh\.default\.\*/);
  const host = formatDoctor(await doctor(machine(), { privileges: ROOT, namespace: probeNetns(true) })).join('\n');
  assert.match(host, /\nnetwork namespace\n {2}initial {2}the machine's initial network namespace\n/);
  assert.match(host, /\n {11}fix: Debian\/Ubuntu: modprobe sch_netem/);
  const rep = await doctor(machine(), { privileges: ROOT, namespace: inside });
  assert.equal(rep.ok, true, 'another namespace is no reason to be not ready');
  assert.deepEqual(rep.namespace, inside);
  const text = formatDoctor(rep).join('\n');
  assert.match(text, /\nnetwork namespace\n {2}other {4}not the initial network namespace/);
  assert.match(text, /\n {11}fix \(on the machine itself, not in this namespace\): Debian\/Ubuntu: modprobe sch_netem/);
});

test('doctor: a Docker-like firewall (FORWARD DROP, DOCKER-USER, bridge-nf-call-iptables=1) is named with what up does', async () => {
  const r = new ScriptedRunner()
    .on('iptables-save -t filter', { stdout: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\nCOMMIT\n' })
    .on('ip6tables-save -t filter', { stdout: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n' });
  for (const [cmd, reply] of Object.entries(VERSIONS)) r.on(cmd, reply);
  r.on('', kernel());
  const files = fakeFiles({ sysctls: { 'net/bridge/bridge-nf-call-iptables': '1', 'net/bridge/bridge-nf-call-ip6tables': '0' } });
  const rep = await doctor(r, { privileges: ROOT, files });
  assert.equal(rep.hostFirewall?.ipv4?.guards, true);
  assert.equal(rep.hostFirewall?.ipv6?.guards, false, 'bridged IPv6 skips ip6tables here');
  const text = formatDoctor(rep).join('\n');
  assert.match(
    text,
    /note: iptables: FORWARD policy DROP and a DOCKER-USER chain, bridge-nf-call-iptables=1 \(Docker-like firewall\): bridged traffic goes through iptables FORWARD and would be dropped there; netlab up accepts .* first in DOCKER-USER, tagged netlab:LAB and removed by down/,
  );
  assert.doesNotMatch(text, /note: ip6tables/);
});
