// netlab trace on the real kernel: the order the kernel really took, every packet of the
// connection, NAT before -> after, routing drops with the kernel's answer, TPROXY's local route,
// a host bridge (in a private world) and a LOG before a DROP, a vxlan interface's encapsulation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, LABS, ROOT, netlab, sh, stateDir, waitFor } from '../lib/host.js';
import { World } from '../lib/world.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };
const FIXTURES = join(ROOT, 'test/fixtures/trace/labs');

interface HopJson {
  ns: string;
  table: string;
  chain: string;
  verdict: string;
  rules: string[];
  hits: { rule: string; verdict: string; iptables?: string }[];
  own?: boolean;
}
interface SegmentJson {
  ns: string;
  hops: HopJson[];
  ending: { kind: string };
  rewrites: { kind: string; before: string; after: string }[];
  routing?: { command: string; answer: string; ok: boolean; why?: string };
  conntrack?: { original: string; reply: string };
}
interface TraceJson {
  hops: HopJson[];
  packets: { n: number; label: string; direction: string; segments: SegmentJson[] }[];
  outcome: { result: string; ns?: string; where?: string; text: string; socket?: string };
}

function traceJson(run: (args: string[]) => { code: number; stdout: string; stderr: string }, file: string, args: string[]): TraceJson {
  const r = run(['trace', file, ...args, '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return JSON.parse(r.stdout) as TraceJson;
}

/** Up a lab, run traces on it, down it; tracing leaves nothing behind in its namespaces. */
function withLab(file: string, name: string, nodes: string[], body: (trace: (args: string[]) => TraceJson) => void): void {
  const up = netlab(['up', file, '--no-checks'], env);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  try {
    body((args) => traceJson((a) => netlab(a, env), file, args));
    for (const ns of nodes) assert.doesNotMatch(sh('bash', ['-c', `ip netns exec ${ns} nft list tables 2>/dev/null || true`]), /netlab_trace/, `trace table left in ${ns}`);
  } finally {
    netlab(['down', name], env);
  }
}

describe('netlab trace on the real kernel', () => {
  after(() => state.cleanup());

  test('packet-flow: raw, mangle, nat and filter in the order of experiments.md section 10', () => {
    withLab(join(LABS, 'packet-flow.yaml'), 'packet-flow', ['client', 'router', 'server'], (trace) => {
      const t = trace(['--from', 'client', '--to', '10.0.2.2']);
      const path = (ns: string) => t.hops.filter((h) => h.ns === ns).map((h) => `${h.table}/${h.chain}`);
      assert.deepEqual(path('router'), ['raw/PREROUTING', 'mangle/PREROUTING', 'nat/PREROUTING', 'mangle/FORWARD', 'filter/FORWARD', 'mangle/POSTROUTING', 'nat/POSTROUTING']);
      assert.deepEqual(path('server'), ['raw/PREROUTING', 'mangle/PREROUTING', 'nat/PREROUTING', 'mangle/INPUT', 'filter/INPUT', 'nat/INPUT']);
      assert.deepEqual([...new Set(t.hops.map((h) => h.ns))], ['client', 'router', 'server']);
      assert.equal(t.outcome.result, 'delivered');
      assert.equal(t.outcome.ns, 'server');
      assert.deepEqual(
        t.packets.map((p) => [p.label, p.direction]),
        [
          ['echo request', 'request'],
          ['echo reply', 'reply'],
        ],
      );
    });
  });

  test('iptables-drop: the blocked ping ends in DROP at filter/INPUT in c1', () => {
    withLab(join(LABS, 'iptables-drop.yaml'), 'iptables-drop', ['c1', 'c2', 'docker-host'], (trace) => {
      const t = trace(['--from', 'docker-host', '--to', '172.17.0.2']);
      assert.equal(t.outcome.result, 'dropped');
      assert.equal(t.outcome.ns, 'c1');
      assert.equal(t.outcome.where, 'filter/INPUT');
      assert.match(t.outcome.text, /-A INPUT -s 172\.17\.0\.1\/32 -j DROP/);
    });
  });

  test('tproxy: TPROXY with its port and mark, the local route of table 100, delivery to the transparent socket', () => {
    withLab(join(LABS, 'tproxy.yaml'), 'tproxy', ['client', 'proxy', 'server'], (trace) => {
      const t = trace(['--from', 'client', '--to', '198.51.100.9', '--proto', 'tcp', '--port', '80']);
      const syn = t.packets[0]!;
      assert.equal(syn.label, 'SYN');
      const proxy = syn.segments.find((s) => s.ns === 'proxy')!;
      const pre = proxy.hops.find((h) => h.table === 'mangle' && h.chain === 'PREROUTING')!;
      assert.match(pre.hits.map((h) => h.iptables ?? '').join(' '), /TPROXY --on-port 8888 .*--tproxy-mark 0x1\/0x1/);
      assert.ok(proxy.routing?.ok && /^local .* table 100/.test(proxy.routing.answer), JSON.stringify(proxy.routing));
      assert.match(proxy.routing!.command, /mark 0x1/);
      assert.ok(!t.hops.some((h) => h.table === 'nat'), 'no nat chain on the way');
      assert.equal(t.outcome.result, 'delivered');
      assert.equal(t.outcome.ns, 'proxy');
      assert.match(t.outcome.socket ?? '', /:8888 \(socat, pid \d+\)/);
      assert.equal(t.packets[1]?.label, 'SYN-ACK');
      assert.equal(t.packets[1]?.direction, 'reply');
    });
  });

  test('docker-bridge: into the IP stack by a bridge port, MASQUERADE, out to the outside node and back', () => {
    withLab(join(LABS, 'docker-bridge.yaml'), 'docker-bridge', ['c1', 'dockerhost', 'outside'], (trace) => {
      const t = trace(['--from', 'c1', '--to', '203.0.113.2', '--proto', 'tcp', '--port', '8000']);
      assert.equal(t.outcome.result, 'delivered', t.outcome.text);
      assert.equal(t.outcome.ns, 'outside');
      const [syn, synAck] = t.packets;
      assert.deepEqual(
        syn!.segments.map((s) => s.ns),
        ['c1', 'dockerhost', 'outside'],
      );
      assert.match(syn!.segments[1]!.rewrites.map((r) => `${r.kind} ${r.before} -> ${r.after}`).join(), /^MASQUERADE 172\.17\.0\.2:\d+ -> 203\.0\.113\.1:\d+$/);
      assert.deepEqual(
        synAck!.segments.map((s) => s.ns),
        ['outside', 'dockerhost', 'c1'],
      );
    });
  });

  describe('a port forward behind a masquerading router (test fixture lab)', () => {
    const file = join(FIXTURES, 'port-forward.yaml');
    let run: (args: string[]) => TraceJson;
    before(() => {
      const up = netlab(['up', file, '--no-checks'], env);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      run = (args) => traceJson((a) => netlab(a, env), file, args);
    });
    after(() => netlab(['down', 'trace-pf'], env));

    test('DNAT: the connection is followed to the server, NAT shown before -> after, each packet labelled', () => {
      const t = run(['--from', 'client', '--to', '10.0.1.1', '--proto', 'tcp', '--port', '8080']);
      assert.equal(t.outcome.result, 'delivered', t.outcome.text);
      assert.equal(t.outcome.ns, 'server');
      assert.match(t.outcome.socket ?? '', /^tcp 0\.0\.0\.0:80 \(socat, pid \d+\)$/);
      const router = t.packets[0]!.segments.find((s) => s.ns === 'router')!;
      assert.deepEqual(
        router.rewrites.map((r) => `${r.kind} ${r.before} -> ${r.after}`.replace(/:\d{5}\b/g, ':P')),
        ['DNAT 10.0.1.1:8080 -> 10.0.2.2:80', 'MASQUERADE 10.0.1.2:P -> 10.0.2.1:P'],
      );
      const labels = t.packets.map((p) => `${p.label}${p.direction === 'reply' ? ' (reply)' : ''}`);
      assert.deepEqual(labels.slice(0, 3), ['SYN', 'SYN-ACK (reply)', 'ACK']);
      assert.deepEqual(
        t.packets[1]!.segments.map((s) => s.ns),
        ['server', 'router', 'client'],
      );
      assert.match(router.routing?.answer ?? '', /^10\.0\.2\.2 from 10\.0\.1\.2 dev eth1/);
      assert.match(router.conntrack?.original ?? '', /^src=10\.0\.1\.2 dst=10\.0\.1\.1 sport=\d+ dport=8080$/);
      assert.match(router.conntrack?.reply ?? '', /^src=10\.0\.2\.2 dst=10\.0\.2\.1 sport=80 dport=\d+$/);
      const text = netlab(['trace', file, '--from', 'client', '--to', '10.0.1.1', '--proto', 'tcp', '--port', '8080'], env).stdout;
      assert.match(text, /packet 1: SYN {2}10\.0\.1\.2:\d+ -> 10\.0\.1\.1:8080 {3}client -> router -> server/);
      assert.match(text, /DNAT: 10\.0\.1\.1:8080 -> 10\.0\.2\.2:80/);
      assert.match(text, /packet 2: SYN-ACK \(reply\)/);
      assert.match(text, /the kernel's answer for this packet: ip route get 10\.0\.2\.2 from 10\.0\.1\.2 iif eth0/);
    });

    test('a LOG before a DROP: both rules shown, the DROP ends it', () => {
      const t = run(['--from', 'client', '--to', '10.0.2.2', '--proto', 'tcp', '--port', '81']);
      assert.equal(t.outcome.result, 'dropped');
      assert.equal(t.outcome.where, 'filter/FORWARD');
      const fwd = t.packets[0]!.segments.find((s) => s.ns === 'router')!.hops.find((h) => h.chain === 'FORWARD' && !h.own)!;
      assert.deepEqual(
        fwd.hits.map((h) => [h.iptables, h.verdict]),
        [
          ['-A FORWARD -p tcp -m tcp --dport 81 -j LOG --log-prefix "netlab-trace "', 'continue'],
          ['-A FORWARD -p tcp -m tcp --dport 81 -j DROP', 'drop'],
        ],
      );
    });

    test('no route: dropped by routing, with the kernel answer', () => {
      const t = run(['--from', 'client', '--to', '10.0.9.9']);
      assert.equal(t.outcome.result, 'dropped');
      assert.equal(t.outcome.ns, 'router');
      assert.equal(t.outcome.where, 'routing');
      assert.match(t.outcome.text, /no route to 10\.0\.9\.9 .*ip route get 10\.0\.9\.9 from 10\.0\.1\.2 iif eth0 .*says: Network is unreachable/);
      assert.ok(
        t.packets.some((p) => p.direction === 'reply' && /destination-unreachable/.test(p.label)),
        "the router's ICMP error is shown",
      );
    });

    test('a source without a route sends nothing: unseen, with its own routing answer', () => {
      const t = run(['--from', 'nofwd', '--to', '10.0.9.9']);
      assert.equal(t.outcome.result, 'unseen');
      assert.equal(t.packets.length, 0);
      assert.match(t.outcome.text, /^nofwd did not send it: no route to 10\.0\.9\.9 .*Network is unreachable/);
    });

    test('forwarding off: dropped by routing, naming the sysctl', () => {
      const t = run(['--from', 'client', '--to', '10.0.4.2']);
      assert.equal(t.outcome.result, 'dropped');
      assert.equal(t.outcome.ns, 'nofwd');
      assert.equal(t.outcome.where, 'routing');
      assert.match(t.outcome.text, /forwarding is off on eth0 \(net\.ipv4\.conf\.eth0\.forwarding = 0\)/);
    });
  });

  test('a host bridge (private world): the bridge hop, and a LOG then DROP in the host FORWARD by br_netfilter', () => {
    const w = World.create();
    try {
      const file = join(FIXTURES, 'host-bridge.yaml');
      const up = w.netlab(['up', file, '--no-checks']);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      const ok = traceJson((a) => w.netlab(a), file, ['--from', 'a', '--to', '10.0.5.2']);
      assert.equal(ok.outcome.result, 'delivered');
      assert.deepEqual(
        ok.packets[0]!.segments.map((s) => s.ns),
        ['a', 'host namespace', 'b'],
      );
      const host = ok.packets[0]!.segments[1]!;
      assert.ok(host.hops.some((h) => h.own && h.table.startsWith('netlab_trace') && (h as { family?: string }).family === 'bridge' && h.chain === 'forward_'));
      assert.equal(host.routing, undefined, 'bridged, not routed');
      const text = w.netlab(['trace', file, '--from', 'a', '--to', '10.0.5.2']).stdout;
      assert.match(text, /bridge {7}tra -> trb \(bridged in host namespace\)/);
      const drop = traceJson((a) => w.netlab(a), file, ['--from', 'a', '--to', '10.0.5.3']);
      assert.equal(drop.outcome.result, 'dropped');
      assert.equal(drop.outcome.ns, 'host namespace');
      assert.equal(drop.outcome.where, 'filter/FORWARD');
      const fwd = drop.packets[0]!.segments[1]!.hops.find((h) => h.chain === 'FORWARD' && !h.own)!;
      assert.deepEqual(
        fwd.hits.map((h) => h.verdict),
        ['continue', 'drop'],
      );
      assert.match(fwd.hits[0]!.iptables ?? '', /-j LOG/);
      assert.equal(w.netlab(['down', 'trace-hb']).code, 0);
      assert.doesNotMatch(w.sh('nft list tables').stdout, /netlab_trace/);
    } finally {
      w.destroy();
    }
  });

  test('a vxlan interface declared by hand (private world): the packet ends encapsulated, with its VNI and remote, not "left the lab"', () => {
    const w = World.create();
    try {
      const file = join(FIXTURES, 'vxlan.yaml');
      const up = w.netlab(['up', file, '--no-checks']);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      const r = traceJson((a) => w.netlab(a), file, ['--from', 'a', '--to', '10.9.0.2']) as TraceJson & { outcome: { tunnel?: { vni: number; remote: string; port: number } } };
      assert.equal(r.outcome.result, 'encapsulated');
      assert.equal(r.outcome.text, "encapsulated by a's vx0: VXLAN VNI 4242, UDP to 192.0.2.2:4789");
      assert.deepEqual(r.outcome.tunnel && [r.outcome.tunnel.vni, r.outcome.tunnel.remote, r.outcome.tunnel.port], [4242, '192.0.2.2', 4789]);
      const text = w.netlab(['trace', file, '--from', 'a', '--to', '10.9.0.2']).stdout;
      assert.match(text, /-> out vx0: encapsulated by a's vx0: VXLAN VNI 4242, UDP to 192\.0\.2\.2:4789 {2}10\.9\.0\.1 -> 10\.9\.0\.2/);
      assert.doesNotMatch(text, /vx0.*(left|leaves) the lab/);
      assert.equal(w.netlab(['down', 'trace-vx']).code, 0);
    } finally {
      w.destroy();
    }
  });

  test('kill -9 in the middle of a trace (private world): the next trace, down and gc each remove its tables and monitors', async () => {
    const w = World.create();
    const traces = join(w.stateDir, 'trace');
    const sessions = () => (existsSync(traces) ? readdirSync(traces) : []);
    const alive = (pid: number) => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false; // gone
      }
    };
    /** Starts a trace and kills it (SIGKILL) once its monitors run in a, b, c and the host: what it armed stays. */
    const killed = async () => {
      const [cmd, ...args] = w.argv(process.execPath, [CLI, 'trace', file, '--from', 'a', '--to', '10.0.5.2']);
      const child = spawn(cmd!, args, { env: { ...process.env, NETLAB_STATE_DIR: w.stateDir }, stdio: 'ignore' });
      const armed = () => {
        for (const s of sessions()) {
          try {
            const a = JSON.parse(readFileSync(join(traces, s, 'session.json'), 'utf8')) as { owner?: { pid: number }; monitors: { pid: number }[] };
            if (a.owner?.pid === child.pid && a.monitors.length === 4) return { session: s, monitors: a.monitors.map((m) => m.pid) };
          } catch {}
        }
        return undefined;
      };
      assert.ok(await waitFor(() => !!armed(), 20_000, 10), 'the trace armed its four monitors');
      const { session, monitors } = armed()!;
      child.kill('SIGKILL');
      await once(child, 'exit');
      // The host's table is named by the session (never by a pid alone, which comes back).
      const id = session.slice(session.lastIndexOf('.') + 1);
      assert.match(w.sh('nft list tables').stdout, new RegExp(`^table inet netlab_trace_${id}$`, 'm'), "the killed trace's host table is left");
      assert.ok(monitors.every(alive), 'its monitors still run');
      return { pid: child.pid!, monitors };
    };
    const gone = (k: { pid: number; monitors: number[] }, after: string, labUp = true) => {
      assert.doesNotMatch(w.sh('nft list tables').stdout, /netlab_trace/, `no trace table in the host after ${after}`);
      // While the lab is up, its namespaces are there, without the killed trace's tables.
      for (const ns of labUp ? ['a', 'b', 'c'] : []) {
        const tables = w.sh(`ip netns exec ${ns} nft list tables`);
        assert.equal(tables.code, 0, tables.stderr);
        assert.doesNotMatch(tables.stdout, /netlab_trace/, `no trace table in ${ns} after ${after}`);
      }
      assert.ok(
        k.monitors.every((p) => !alive(p)),
        `every monitor stopped after ${after}`,
      );
      assert.deepEqual(sessions(), [], `no trace session left after ${after}`);
    };
    const file = join(FIXTURES, 'host-bridge.yaml');
    try {
      assert.equal(w.netlab(['up', file, '--no-checks']).code, 0);
      // gc: lists it (dry run), then removes it; the lab itself stays up.
      let k = await killed();
      const dry = w.netlab(['gc', '--dry-run']);
      assert.match(dry.stdout, new RegExp(`would remove 1 orphan\\(s\\):\\n  what a killed 'netlab trace' of lab trace-hb left \\(pid ${k.pid}\\): 4 trace table\\(s\\), 4 monitor\\(s\\)`));
      assert.ok(k.monitors.every(alive), 'a dry run changes nothing');
      const g = w.netlab(['gc']);
      assert.match(g.stdout, /removed 1 orphan\(s\):\n {2}what a killed 'netlab trace' of lab trace-hb left/);
      gone(k, 'gc');
      assert.equal(w.netlab(['check', 'trace-hb']).code, 0, 'the lab is untouched');
      // The next trace: it collects its killed predecessor first, then traces as ever.
      k = await killed();
      const again = traceJson((a) => w.netlab(a), file, ['--from', 'a', '--to', '10.0.5.2']);
      assert.equal(again.outcome.result, 'delivered');
      gone(k, 'the next trace');
      // Killed after starting its monitors but before recording them (the session lists none): each
      // is found by its output, which goes into the session's directory, and stopped.
      k = await killed();
      const [name] = sessions();
      const file1 = join(traces, name!, 'session.json');
      writeFileSync(file1, JSON.stringify({ ...JSON.parse(readFileSync(file1, 'utf8')), monitors: [] }));
      assert.match(w.netlab(['gc']).stdout, /what a killed 'netlab trace' of lab trace-hb left \(pid \d+\): 4 trace table\(s\), 4 monitor\(s\)/);
      gone(k, 'gc, with no monitor recorded');
      // down: removes it with the lab, and says so.
      k = await killed();
      const d = w.netlab(['down', 'trace-hb']);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout, new RegExp(`removed what a killed 'netlab trace' \\(pid ${k.pid}\\) left: 4 trace table\\(s\\), 4 monitor\\(s\\)`));
      gone(k, 'down', false);
    } finally {
      w.destroy();
    }
  });
});
