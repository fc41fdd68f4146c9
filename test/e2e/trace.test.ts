// netlab trace on the real kernel: the order the kernel really took, drops and TPROXY.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LABS, netlab, sh, stateDir } from '../lib/host.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };

interface TraceJson {
  hops: { ns: string; table: string; chain: string; verdict: string; rules: string[] }[];
  outcome: { result: string; ns?: string; where?: string; text: string };
}

function traceOf(lab: string, args: string[]): TraceJson {
  const file = join(LABS, `${lab}.yaml`);
  const up = netlab(['up', file, '--no-checks'], env);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  try {
    const r = netlab(['trace', file, ...args, '--json'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // Tracing leaves nothing behind in the lab's namespaces.
    for (const ns of ['client', 'router', 'server', 'proxy', 'c1', 'c2', 'docker-host']) {
      const t = sh('bash', ['-c', `ip netns exec ${ns} nft list tables 2>/dev/null || true`]);
      assert.doesNotMatch(t, /netlab_trace/, `trace table left in ${ns}`);
    }
    return JSON.parse(r.stdout) as TraceJson;
  } finally {
    netlab(['down', lab], env);
  }
}

describe('netlab trace on the real kernel', () => {
  after(() => state.cleanup());

  test('packet-flow: raw, mangle, nat and filter in the order of experiments.md section 10', () => {
    const t = traceOf('packet-flow', ['--from', 'client', '--to', '10.0.2.2']);
    const path = (ns: string) => t.hops.filter((h) => h.ns === ns).map((h) => `${h.table}/${h.chain}`);
    assert.deepEqual(path('router'), ['raw/PREROUTING', 'mangle/PREROUTING', 'nat/PREROUTING', 'mangle/FORWARD', 'filter/FORWARD', 'mangle/POSTROUTING', 'nat/POSTROUTING']);
    assert.deepEqual(path('server'), ['raw/PREROUTING', 'mangle/PREROUTING', 'nat/PREROUTING', 'mangle/INPUT', 'filter/INPUT', 'nat/INPUT']);
    assert.deepEqual([...new Set(t.hops.map((h) => h.ns))], ['client', 'router', 'server']);
    assert.equal(t.outcome.result, 'delivered');
    assert.equal(t.outcome.ns, 'server');
  });

  test('iptables-drop: the blocked ping ends in DROP at filter/INPUT in c1', () => {
    const t = traceOf('iptables-drop', ['--from', 'docker-host', '--to', '172.17.0.2']);
    assert.equal(t.outcome.result, 'dropped');
    assert.equal(t.outcome.ns, 'c1');
    assert.equal(t.outcome.where, 'filter/INPUT');
    assert.match(t.outcome.text, /172\.17\.0\.1/);
  });

  test('tproxy: the TPROXY rule in mangle/PREROUTING, then local delivery without NAT', () => {
    const t = traceOf('tproxy', ['--from', 'client', '--to', '198.51.100.9', '--proto', 'tcp', '--port', '80']);
    const pre = t.hops.find((h) => h.ns === 'proxy' && h.table === 'mangle' && h.chain === 'PREROUTING')!;
    assert.match(pre.rules.join(' '), /TPROXY/);
    assert.ok(!t.hops.some((h) => h.table === 'nat'), 'no nat chain on the way');
    assert.equal(t.outcome.result, 'delivered');
    assert.equal(t.outcome.ns, 'proxy');
  });
});
