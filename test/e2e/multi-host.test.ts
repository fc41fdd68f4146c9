// A lab across hosts, on the real kernel: two simulated hosts (Worlds: a network and mount
// namespace each, with their own /run/netns and NETLAB_STATE_DIR) joined by a veth underlay made
// between them (never in the real root namespace). labs/k8s-cross-node.yaml runs across them:
// pods reach pods over a kernel VXLAN tunnel between the hosts' underlay addresses, the underlay
// carries UDP 4789 with the link's VNI, `up` again changes nothing, and `down` leaves each host
// exactly as before. First through a transport that enters the hosts (nsenter), then through a
// real sshd inside the second host (its own config, host key and authorized_keys in a temp dir,
// listening on the underlay address only).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { CLI, isRoot, LABS, stateDir, type CliResult } from '../lib/host.js';
import { compare } from '../lib/snapshot.js';
import { World } from '../lib/world.js';

const A1 = '192.168.56.11';
const A2 = '192.168.56.12';

function must(w: World, script: string): string {
  const r = w.sh(`set -e\n${script}`);
  assert.equal(r.code, 0, `${script}\n${r.stderr}`);
  return r.stdout;
}

const out = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

/** The argv prefix that enters a world with its own state directory: the transport of a simulated host. */
const enter = (w: World) => ['env', `NETLAB_STATE_DIR=${w.stateDir}`, ...w.argv('env').slice(0, -1)];

/** Two worlds joined by a veth pair (u0 in each), addresses A1 and A2. */
function underlay(w1: World, w2: World): ChildProcess {
  // A process inside w2 names its network namespace for `ip link add ... netns PID` run in w1.
  const [cmd, ...args] = w2.argv('sleep', ['600']);
  const holder = spawn(cmd!, args, { stdio: 'ignore' });
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const r = spawnSync('readlink', [`/proc/${holder.pid}/ns/net`], { encoding: 'utf8' });
    const w2net = w2.run('readlink', ['/proc/self/ns/net']).stdout;
    if (r.stdout && r.stdout === w2net) break;
    spawnSync('sleep', ['0.05']);
  }
  // No IPv6 link-local on the underlay: its DAD and neighbour entries would settle during the test
  // and show in the before/after snapshots of the hosts.
  must(w1, `ip link add u0 type veth peer name u0 netns ${holder.pid}\nip link set u0 addrgenmode none\nip addr add ${A1}/24 dev u0\nip link set u0 up`);
  must(w2, `ip link set u0 addrgenmode none\nip addr add ${A2}/24 dev u0\nip link set u0 up`);
  // Both ends up with carrier (and their routes made) before the tests take their snapshots.
  for (const w of [w1, w2])
    must(w, 'for i in $(seq 100); do ip -o link show u0 | grep -q "state UP" && ip -6 route show table local | grep -q "^multicast ff00::/8 dev u0" && exit 0; sleep 0.1; done; exit 1');
  return holder;
}

/** labs/k8s-cross-node.yaml with the hosts given. */
function labWith(dir: string, hosts: Record<string, unknown> | undefined): string {
  const raw = parse(readFileSync(join(LABS, 'k8s-cross-node.yaml'), 'utf8')) as Record<string, unknown>;
  if (hosts) raw.hosts = hosts;
  else delete raw.hosts;
  const file = join(dir, 'k8s-cross-node.yaml');
  writeFileSync(file, stringify(raw));
  return file;
}

/** No trace table, trace monitor or trace session left on either host. */
function traceCleanOn(ws: World[], when: string): void {
  for (const w of ws) {
    const { stdout: left } = w.sh(
      `for n in $(ip netns list | cut -d" " -f1); do ip netns exec $n nft list tables | grep netlab_trace; for p in $(ip netns pids $n); do tr "\\0" " " < /proc/$p/cmdline | grep "monitor trace"; done; done; ls ${w.stateDir}/trace 2>/dev/null; true`,
    );
    assert.equal(left.trim(), '', `${when}: left on a host:\n${left}`);
  }
}

/** Runs netlab as the coordinator, in the given world or (none) in the test's own namespaces. */
function coordinator(w: World | undefined, args: string[], env: Record<string, string>): CliResult {
  if (w) return w.netlab(args, env);
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 180_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('multi-host: a lab across two simulated hosts', { skip: !isRoot && 'needs root' }, () => {
  let w1: World;
  let w2: World;
  let holder: ChildProcess;
  before(() => {
    w1 = World.create();
    w2 = World.create();
    holder = underlay(w1, w2);
  });
  after(() => {
    holder?.kill('SIGKILL');
    w1?.destroy();
    w2?.destroy();
  });

  test('through a transport that enters each host: VXLAN between hosts, checks across them, a trace across them, up again is a no-op, down leaves both hosts as before', async () => {
    const st = stateDir();
    const traceClean = (when: string) => traceCleanOn([w1, w2], when);
    try {
      const before1 = w1.snapshot({ everySysctl: true });
      const before2 = w2.snapshot({ everySysctl: true });
      const file = labWith(st.dir, { node1: { address: A1, exec: enter(w1) }, node2: { address: A2, exec: enter(w2) } });
      const env = { NETLAB_STATE_DIR: st.dir };
      // Capture the underlay while the checks run: the tunnel's packets are UDP 4789 with the VNI.
      const cap = w1.run('sh', ['-c', `timeout 60 tcpdump -l -nn -i u0 -c 1000 'udp port 4789' 2>/dev/null > ${join(st.dir, 'cap.txt')} & echo $!`]);
      assert.equal(cap.code, 0, cap.stderr);
      spawnSync('sleep', ['1']);
      // A dry run shows each host's plan, with the tunnel, and changes nothing.
      const dry = coordinator(undefined, ['up', file, '--dry-run'], env);
      assert.equal(dry.code, 0, out(dry));
      assert.match(dry.stdout, /# host node2 \(exec env .*\):\n[\s\S]*link add name flannel\.1 netns k8s-node2 type vxlan id \d+ remote 192\.168\.56\.11 local 192\.168\.56\.12 dstport 4789/);
      assert.equal(must(w2, 'ip netns list'), '');
      const up = coordinator(undefined, ['up', file], env);
      assert.equal(up.code, 0, out(up));
      assert.match(up.stdout, /host node1 \(exec env .*\): \d+ change\(s\) applied; vxlan k8s-node1:flannel\.1 vni \d+ to 192\.168\.56\.12/);
      assert.match(up.stdout, /ok {3}trace pod-a -> pod-c is encapsulated by flannel\.1 to node2 \(on node1\)/);
      assert.match(up.stdout, /ok {3}ping pod-c -> pod-a \(on node2\)/);
      assert.match(up.stdout, /lab k8s-cross-node is up on 2 host\(s\); (\d+)\/\1 checks met/);
      // Each host keeps its own journal, in its own state directory; the coordinator its record.
      assert.ok(existsSync(join(w1.stateDir, 'labs', 'k8s-cross-node.json')));
      assert.ok(existsSync(join(w2.stateDir, 'labs', 'k8s-cross-node.json')));
      assert.ok(existsSync(join(st.dir, 'hosts', 'k8s-cross-node.json')));
      // The tunnel is a kernel vxlan in the node; its UDP socket is the host's (the world's root namespace).
      const link = must(w2, 'ip netns exec k8s-node2 ip -d -o link show flannel.1');
      assert.match(link, /mtu 1450 .*vxlan id (\d+) remote 192\.168\.56\.11 local 192\.168\.56\.12 .*dstport 4789/);
      assert.match(must(w2, 'cat /proc/net/udp'), new RegExp(`:${(4789).toString(16).toUpperCase()} `), 'the VXLAN socket is in the host namespace');
      const vni = /vxlan id (\d+)/.exec(link)![1];
      // The underlay saw the encapsulation: outer UDP between the hosts, the VNI, the pods inside.
      spawnSync('sleep', ['1']);
      w1.sh(`kill ${cap.stdout.trim()} 2>/dev/null; true`);
      const seen = readFileSync(join(st.dir, 'cap.txt'), 'utf8');
      assert.match(
        seen,
        new RegExp(`192\\.168\\.56\\.1[12]\\.\\d+ > 192\\.168\\.56\\.1[12]\\.4789: VXLAN, flags \\[I\\] \\(0x08\\), vni ${vni}\\n?.*10\\.244\\.[12]\\.\\d+ > 10\\.244\\.[12]\\.\\d+`),
        seen,
      );
      // up again: no host changes anything.
      const again = coordinator(undefined, ['up', file, '--no-checks'], env);
      assert.equal(again.code, 0, out(again));
      assert.match(again.stdout, /host node1 .*: up to date/);
      assert.match(again.stdout, /host node2 .*: up to date/);
      // check by lab name, from the record.
      const check = coordinator(undefined, ['check', 'k8s-cross-node'], env);
      assert.equal(check.code, 0, out(check));
      // A node's verbs, by lab name, run on the node's host: its output and exit status are netlab's.
      const ex = coordinator(undefined, ['exec', 'k8s-cross-node', 'pod-c', '--', 'ip', '-br', 'addr', 'show', 'eth0'], env);
      assert.equal(ex.code, 0, out(ex));
      assert.match(ex.stdout, /^eth0@\S+ +UP +10\.244\.2\.2\/24/);
      assert.equal(coordinator(undefined, ['exec', file, 'pod-a', '--', 'sh', '-c', 'exit 7'], env).code, 7, 'by the lab file too');
      const piped = spawnSync(process.execPath, [CLI, 'shell', 'k8s-cross-node', 'pod-d'], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
        input: 'echo "$NETLAB_NODE"; ip -br addr show eth0; exit 3\n',
      });
      assert.equal(piped.status, 3, `${piped.stdout}${piped.stderr}`);
      assert.match(piped.stdout, /^pod-d\neth0@\S+ +UP +10\.244\.2\.3\/24/);
      const st2 = coordinator(undefined, ['status', 'k8s-cross-node'], env);
      assert.equal(st2.code, 0, out(st2));
      assert.match(st2.stdout, /^== host node1\nk8s-cross-node {2}up {2}3 node\(s\)[^\n]*matches the file\n[\s\S]*^== host node2\nk8s-cross-node {2}up {2}3 node\(s\)[^\n]*matches the file$/m);
      const stj = coordinator(undefined, ['status', 'k8s-cross-node', '--json'], env);
      assert.equal(stj.code, 0, out(stj));
      const sdoc = JSON.parse(stj.stdout) as { lab: string; hosts: { host: string; labs: { nodes: string[] }[] }[] };
      assert.deepEqual(
        sdoc.hosts.map((h) => `${h.host}: ${h.labs[0]!.nodes.join(' ')}`),
        ['node1: k8s-node1 pod-a pod-b', 'node2: k8s-node2 pod-c pod-d'],
      );
      // A host that cannot be reached: said, the other host still shown, exit 3.
      const recFile = join(st.dir, 'hosts', 'k8s-cross-node.json');
      const recText = readFileSync(recFile, 'utf8');
      const rec = JSON.parse(recText) as { hosts: { name: string; reach: { exec?: string[] } }[] };
      rec.hosts.find((h) => h.name === 'node2')!.reach = { exec: ['false'] };
      writeFileSync(recFile, JSON.stringify(rec));
      try {
        const half = coordinator(undefined, ['status', 'k8s-cross-node'], env);
        assert.equal(half.code, 3, out(half));
        assert.match(half.stdout, /^== host node1\nk8s-cross-node {2}up [^\n]*\n[\s\S]*^== host node2\n$/m);
        assert.match(half.stderr, /host node2 \(exec false\): sending netlab failed/);
        const halfJson = coordinator(undefined, ['status', 'k8s-cross-node', '--json'], env);
        assert.equal(halfJson.code, 3, out(halfJson));
        const hj = JSON.parse(halfJson.stdout) as { hosts: { host: string; labs?: unknown[]; error?: string }[] };
        assert.deepEqual(
          hj.hosts.map((h) => [h.host, !!h.labs, /sending netlab failed/.test(h.error ?? '')]),
          [
            ['node1', true, false],
            ['node2', false, true],
          ],
        );
      } finally {
        writeFileSync(recFile, recText);
      }
      const logs = coordinator(undefined, ['logs', 'k8s-cross-node'], env);
      assert.equal(logs.code, 1, out(logs));
      assert.match(logs.stdout, /^== host node1\n== host node2\n$/, 'every host, one after the other');
      assert.match(logs.stderr, /^lab k8s-cross-node started no processes\nlab k8s-cross-node started no processes\n$/, 'what each host says');
      assert.equal(coordinator(undefined, ['logs', 'k8s-cross-node', 'pod-c/none'], env).code, 1, "a process pod-c's host does not have");
      const nope = coordinator(undefined, ['exec', 'k8s-cross-node', 'pod-z', '--', 'true'], env);
      assert.equal(nope.code, 1, out(nope));
      assert.match(nope.stderr, /lab k8s-cross-node has no node 'pod-z'\n {2}hint: its nodes: k8s-node1, k8s-node2, pod-a, pod-b, pod-c, pod-d/);
      // trace by lab name, from the coordinator: every host traces its part at once, and the story
      // crosses the tunnel: encapsulated by k8s-node1's flannel.1 (the VNI, UDP to node2), then
      // decapsulated by k8s-node2's, delivered in pod-c; the reply comes back the same way.
      const tr = coordinator(undefined, ['trace', 'k8s-cross-node', '--from', 'pod-a', '--to', '10.244.2.2'], env);
      assert.equal(tr.code, 0, out(tr));
      assert.match(tr.stdout, /^trace icmp pod-a -> 10\.244\.2\.2 across hosts node1, node2: probe answered/);
      assert.match(tr.stdout, new RegExp(`packet 1: echo request .* pod-a -> k8s-node1 =\\[VXLAN ${vni}\\]=> k8s-node2 -> pod-c`));
      assert.match(tr.stdout, new RegExp(`-> out flannel\\.1: encapsulated by k8s-node1's flannel\\.1: VXLAN VNI ${vni}, UDP to 192\\.168\\.56\\.12:4789 \\(host node2, node k8s-node2\\)`));
      assert.match(
        tr.stdout,
        new RegExp(`k8s-node2 \\(host node2, in: flannel\\.1, decapsulated by k8s-node2's flannel\\.1: VXLAN VNI ${vni} from 192\\.168\\.56\\.11 \\(host node1, node k8s-node1\\)\\)`),
      );
      assert.match(tr.stdout, /packet 2: echo reply \(reply\) .* pod-c -> k8s-node2 =\[VXLAN \d+\]=> k8s-node1 -> pod-a/);
      assert.match(tr.stdout, /^=> delivered locally in pod-c .*; encapsulated on the way: VXLAN VNI \d+ from k8s-node1 \(host node1\) to 192\.168\.56\.12:4789 \(k8s-node2 on host node2\)$/m);
      const trj = coordinator(undefined, ['trace', 'k8s-cross-node', '--from', 'pod-a', '--to', '10.244.2.2', '--json'], env);
      assert.equal(trj.code, 0, out(trj));
      const doc = JSON.parse(trj.stdout) as { outcome: { result: string; ns: string }; packets: { segments: { ns: string; host: string }[]; ending: { result: string } }[] };
      assert.deepEqual([doc.outcome.result, doc.outcome.ns], ['delivered', 'pod-c']);
      assert.deepEqual(
        doc.packets[0]!.segments.map((s) => `${s.host}:${s.ns}`),
        ['node1:pod-a', 'node1:k8s-node1', 'node2:k8s-node2', 'node2:pod-c'],
      );
      // On one host's part alone, the same packet ends encapsulated (no 'left the lab'), in --json too.
      const part = w1.netlab(['trace', 'k8s-cross-node', '--from', 'pod-a', '--to', '10.244.2.2', '--json']);
      assert.equal(part.code, 0, out(part));
      const pdoc = JSON.parse(part.stdout) as { outcome: { result: string; text: string; tunnel: { vni: number; remote: string; peerHost: string; peerNode: string } } };
      assert.equal(pdoc.outcome.result, 'encapsulated', part.stdout);
      assert.deepEqual([pdoc.outcome.tunnel.vni, pdoc.outcome.tunnel.remote, pdoc.outcome.tunnel.peerHost, pdoc.outcome.tunnel.peerNode], [Number(vni), A2, 'node2', 'k8s-node2']);
      assert.equal(pdoc.outcome.text, `encapsulated by k8s-node1's flannel.1: VXLAN VNI ${vni}, UDP to 192.168.56.12:4789 (host node2, node k8s-node2)`);
      traceClean('after the traces');
      // A host that fails: the trace fails naming it (exit 3), and the host that armed is cleaned up.
      const broken = parse(readFileSync(file, 'utf8')) as { hosts: Record<string, { exec: string[] }> };
      broken.hosts.node2!.exec = ['false'];
      const brokenFile = join(st.dir, 'broken', 'k8s-cross-node.yaml');
      mkdirSync(join(st.dir, 'broken'));
      writeFileSync(brokenFile, stringify(broken));
      const failed = coordinator(undefined, ['trace', brokenFile, '--from', 'pod-a', '--to', '10.244.2.2'], env);
      assert.equal(failed.code, 3, out(failed));
      assert.match(failed.stderr, /host node2 \(exec false\): sending netlab failed/);
      traceClean('after a host failed');
      // Ctrl-C on the coordinator once every host is armed: it disarms every host, then exits 130.
      const stopping = spawn(process.execPath, [CLI, 'trace', 'k8s-cross-node', '--from', 'pod-a', '--to', '10.244.2.2'], { env: { ...process.env, ...env }, stdio: 'ignore' });
      const stopped = new Promise<number | null>((r) => stopping.once('exit', (code) => r(code)));
      const armed = () => [w1, w2].every((w) => must(w, `ls ${w.stateDir}/trace 2>/dev/null || true`).trim() !== '');
      for (let i = 0; i < 200 && !armed(); i++) spawnSync('sleep', ['0.05']);
      stopping.kill('SIGINT');
      assert.equal(await stopped, 130);
      traceClean('after Ctrl-C');
      // A check that fails on one host fails the whole: exit 4.
      must(w2, 'ip netns exec k8s-node2 ip link set flannel.1 down');
      const failing = coordinator(undefined, ['check', 'k8s-cross-node'], env);
      assert.equal(failing.code, 4, out(failing));
      assert.match(failing.stdout, /FAIL ping pod-c -> pod-a \(on node2: expected ok/);
      // down by name, after the file is gone: everything on every host.
      const down = coordinator(undefined, ['down', 'k8s-cross-node'], env);
      assert.equal(down.code, 0, out(down));
      assert.match(down.stdout, /host node1: lab k8s-cross-node is down/);
      assert.match(down.stdout, /host node2: lab k8s-cross-node is down/);
      assert.ok(!existsSync(join(st.dir, 'hosts', 'k8s-cross-node.json')), 'the record goes with the lab');
      assert.deepEqual(compare(before1, w1.snapshot({ everySysctl: true })), []);
      assert.deepEqual(compare(before2, w2.snapshot({ everySysctl: true })), []);
    } finally {
      coordinator(undefined, ['down', 'k8s-cross-node'], { NETLAB_STATE_DIR: st.dir });
      st.cleanup();
    }
  });

  test('through a real sshd inside the second host: the first host is local, the second is reached with ssh', { timeout: 120_000 }, () => {
    const st = stateDir();
    const ssh = join(st.dir, 'ssh');
    mkdirSync(ssh, { mode: 0o700 });
    let sshd: ChildProcess | undefined;
    let madeRunSshd = false;
    // The shared connections' sockets in the test's directory (the first -o given wins over netlab's).
    const sshCmd = `ssh -F ${join(ssh, 'ssh_config')} -o ControlPath=${join(ssh, 'cm-%C')}`;
    try {
      const before2 = w2.snapshot({ everySysctl: true });
      for (const k of ['host', 'user']) spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(ssh, k)]);
      writeFileSync(join(ssh, 'authorized_keys'), readFileSync(join(ssh, 'user.pub')), { mode: 0o600 });
      writeFileSync(
        join(ssh, 'sshd_config'),
        [
          `ListenAddress ${A2}:22`,
          `HostKey ${join(ssh, 'host')}`,
          `AuthorizedKeysFile ${join(ssh, 'authorized_keys')}`,
          'PermitRootLogin prohibit-password',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'UsePAM no',
          'StrictModes no',
          `PidFile ${join(ssh, 'sshd.pid')}`,
          // The simulated host's netlab keeps its state in the world's state directory.
          `SetEnv NETLAB_STATE_DIR=${w2.stateDir}`,
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(ssh, 'ssh_config'),
        ['Host *', `  IdentityFile ${join(ssh, 'user')}`, `  UserKnownHostsFile ${join(ssh, 'known_hosts')}`, '  StrictHostKeyChecking accept-new', '  IdentitiesOnly yes', ''].join('\n'),
      );
      // sshd needs its privilege separation directory; the world's mount namespace sees the host's /run.
      madeRunSshd = !existsSync('/run/sshd');
      if (madeRunSshd) mkdirSync('/run/sshd', { mode: 0o755 });
      const [cmd, ...args] = w2.argv('/usr/sbin/sshd', ['-D', '-e', '-f', join(ssh, 'sshd_config')]);
      sshd = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      sshd.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && w1.sh(`socat -u /dev/null TCP:${A2}:22,connect-timeout=1`).code !== 0) spawnSync('sleep', ['0.2']);
      // The hosts from an Ansible inventory: node1 is this machine, node2 is reached with ssh.
      const file = labWith(st.dir, undefined);
      const inventory = join(st.dir, 'inventory.yaml');
      writeFileSync(inventory, `all:\n  hosts:\n    node1: {ansible_host: ${A1}, ansible_connection: local}\n    node2: {ansible_host: ${A2}, ansible_user: root}\n`);
      const env = { NETLAB_SSH_COMMAND: sshCmd };
      const up = coordinator(w1, ['up', file, '--inventory', inventory], env);
      assert.equal(up.code, 0, `${out(up)}\nsshd: ${log}`);
      assert.match(up.stdout, /host node1 \(local\): \d+ change\(s\) applied/);
      assert.match(up.stdout, /host node2 \(ssh root@192\.168\.56\.12\): \d+ change\(s\) applied/);
      assert.match(up.stdout, /lab k8s-cross-node is up on 2 host\(s\); (\d+)\/\1 checks met/);
      // netlab sent itself once, by content hash, under the host's state directory.
      assert.match(must(w2, `ls ${w2.stateDir}/remote`), /^[0-9a-f]{16}$/m);
      assert.ok(existsSync(join(w2.stateDir, 'labs', 'k8s-cross-node.json')), "node2's journal is on node2");
      // A trace across the hosts, node1 local (its part shares the coordinator's state directory), node2 over ssh.
      const tr = coordinator(w1, ['trace', 'k8s-cross-node', '--from', 'pod-a', '--to', '10.244.2.2'], env);
      assert.equal(tr.code, 0, out(tr));
      assert.match(tr.stdout, /-> out flannel\.1: encapsulated by k8s-node1's flannel\.1: VXLAN VNI \d+, UDP to 192\.168\.56\.12:4789 \(host node2, node k8s-node2\)/);
      assert.match(tr.stdout, /^=> delivered locally in pod-c /m);
      traceCleanOn([w1, w2], 'after a trace over ssh');
      // Again by name, without the inventory: the record keeps the hosts; nothing changes anywhere.
      const again = coordinator(w1, ['up', 'k8s-cross-node', '--no-checks'], env);
      assert.equal(again.code, 0, out(again));
      assert.match(again.stdout, /host node1 \(local\): up to date/);
      assert.match(again.stdout, /host node2 \(ssh root@192\.168\.56\.12\): up to date/);
      const down = coordinator(w1, ['down', 'k8s-cross-node'], env);
      assert.equal(down.code, 0, out(down));
      assert.deepEqual(compare(before2, w2.snapshot({ everySysctl: true })), []);
      assert.equal(must(w1, 'ip netns list'), '');
      // A host that cannot be reached: exit 3 naming it, and no host changed anything.
      const unreachable = labWith(st.dir, { node1: { address: A1, local: true }, node2: { address: '192.168.56.99', ssh: 'root@192.168.56.99' } });
      const bad = coordinator(w1, ['up', unreachable], { NETLAB_SSH_COMMAND: `${sshCmd} -o ConnectTimeout=2` });
      assert.equal(bad.code, 3, out(bad));
      assert.match(bad.stderr, /host node2 \(ssh root@192\.168\.56\.99\): reaching the host failed \(exit 255\)[\s\S]*hint: check that 'ssh root@192\.168\.56\.99' works/);
      assert.equal(must(w1, 'ip netns list'), '', 'the reachable host changed nothing');
    } finally {
      coordinator(w1, ['down', 'k8s-cross-node'], { NETLAB_SSH_COMMAND: sshCmd });
      sshd?.kill('SIGTERM');
      if (madeRunSshd) rmSync('/run/sshd', { recursive: true, force: true });
      st.cleanup();
    }
  });
});
