// An edit applies only the edit, in place; drift made by hand is found and repaired; a node
// taken out of the file is removed; a re-wired link is re-made.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netlab, ping, removeExact, sh, stateDir, uid } from '../lib/host.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };
const p = uid();
const lab = `rec-${p}`;
const file = join(state.dir, 'lab.yaml');
const [a, b, r, br] = [`${p}a`, `${p}b`, `${p}r`, `${p}br`];

function write(opts: { mtu?: number; addrA?: string; route?: boolean; sysctl?: boolean; rule?: string; withB?: boolean; rewire?: boolean; rules?: boolean }) {
  const o = { mtu: 1500, addrA: '10.71.0.1/24', withB: true, ...opts };
  const lines = [
    `name: ${lab}`,
    'nodes:',
    `  ${a}:`,
    ...(o.route ? ['    routes:', '      - 10.72.0.0/24 via 10.71.0.254', '      - {to: 10.73.0.0/16, via: 10.71.0.254, metric: 50, table: 100}'] : []),
    ...(o.rules ? ['    rules:', '      - fwmark 0x1/0x1 pref 100 table 100', '      - from 10.71.0.0/24 table 100'] : []),
    ...(o.sysctl ? ['    sysctls:', '      net.ipv4.ip_forward: 1', `      net.ipv4.conf.eth0.rp_filter: 2`] : []),
    ...(o.rule ? ['    iptables:', '      filter:', '        INPUT:', `          - ${o.rule}`] : []),
    ...(o.withB ? [`  ${b}:`] : []),
    `  ${r}:`,
    'bridges:',
    `  ${br}: {}`,
    'links:',
    `  - endpoints: [${a}:eth0, ${br}:${p}pa]`,
    `    addresses: {${a}: ${o.addrA}}`,
    `    mtu: ${o.mtu}`,
    ...(o.withB ? [`  - endpoints: [${b}:eth0, ${o.rewire ? `${r}:eth1` : `${br}:${p}pb`}]`, `    addresses: {${b}: ${o.rewire ? `10.74.0.2/24, ${r}: 10.74.0.9/24` : '10.71.0.2/24'}}`] : []),
    `  - endpoints: [${r}:eth0, ${br}:${p}pr]`,
    `    addresses: {${r}: 10.71.0.254/24}`,
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
}

function planLines(): string[] {
  const out = netlab(['plan', file], env);
  assert.equal(out.code, 0, out.stderr);
  return out.stdout
    .split('\n')
    .slice(1)
    .filter((l) => l.trim());
}

function upOk(...extra: string[]) {
  const u = netlab(['up', file, ...extra], env);
  assert.equal(u.code, 0, `${u.stdout}${u.stderr}`);
  const again = netlab(['plan', file, '--detailed-exitcode'], env);
  assert.equal(again.code, 0, `not converged after up:\n${again.stdout}${again.stderr}`);
}

describe('reconcile on the real kernel', () => {
  after(() => {
    netlab(['down', lab], env);
    removeExact([a, b, r], [br, `${p}pa`, `${p}pb`, `${p}pr`]);
    state.cleanup();
  });

  test('first up builds, second is a no-op', () => {
    write({});
    upOk();
    assert.ok(ping(a, '10.71.0.2'));
  });

  test('an address change is made in place', () => {
    write({ addrA: '10.71.0.11/24' });
    const lines = planLines();
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.ok(lines.some((l) => /^\s*-\s+address 10\.71\.0\.1\/24/.test(l)));
    assert.ok(lines.some((l) => /^\s*\+\s+address 10\.71\.0\.11\/24/.test(l)));
    const nsIno = sh('stat', ['-c', '%i', `/run/netns/${a}`]);
    upOk();
    assert.equal(sh('stat', ['-c', '%i', `/run/netns/${a}`]), nsIno, 'the namespace was not re-created');
    assert.ok(ping(b, '10.71.0.11'));
  });

  test('an MTU change is one link change per end', () => {
    write({ addrA: '10.71.0.11/24', mtu: 1400 });
    const lines = planLines();
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.ok(
      lines.every((l) => /~\s+link .* mtu 1400/.test(l)),
      lines.join('\n'),
    );
    upOk();
    assert.match(sh('ip', ['-n', a, 'link', 'show', 'eth0']), /mtu 1400/);
  });

  test('routes, rules, sysctls and iptables are added in place, and removed again', () => {
    write({ addrA: '10.71.0.11/24', mtu: 1400, route: true, rules: true, sysctl: true, rule: '-s 10.71.0.2 -j DROP' });
    const lines = planLines();
    assert.equal(lines.filter((l) => /namespace|veth|bridge/.test(l)).length, 0, lines.join('\n'));
    assert.equal(lines.length, 2 + 2 + 2 + 1, lines.join('\n'));
    upOk();
    assert.match(sh('ip', ['-n', a, 'route', 'show', 'table', '100']), /10\.73\.0\.0\/16 via 10\.71\.0\.254 dev eth0 metric 50/);
    assert.match(sh('ip', ['-n', a, 'rule', 'show']), /100:\s+from all fwmark 0x1\/0x1 lookup 100/);
    assert.equal(sh('ip', ['netns', 'exec', a, 'cat', '/proc/sys/net/ipv4/conf/eth0/rp_filter']).trim(), '2');
    assert.equal(ping(b, '10.71.0.11'), false, 'the DROP rule is in force');
    write({ addrA: '10.71.0.11/24', mtu: 1400, rule: '-s 10.71.0.3 -j DROP' });
    const back = planLines();
    assert.equal(back.length, 2 + 2 + 2 + 1, back.join('\n'));
    upOk();
    assert.ok(ping(b, '10.71.0.11'), 'the changed rule no longer blocks b');
    assert.equal(sh('ip', ['netns', 'exec', a, 'cat', '/proc/sys/net/ipv4/ip_forward']).trim(), '0', 'a sysctl taken out of the file is restored');
  });

  test('drift made by hand is found and repaired', () => {
    // Only a read vouches for a namespace: the last up changed a, so a trusting up reads a (and,
    // finding it as the file asks, verifies it); b and r, which that up read unchanged, it does not.
    const verify = netlab(['up', file, '--json', '--trust-verified'], env);
    assert.equal(verify.code, 0, verify.stderr);
    const v = JSON.parse(verify.stdout) as { changes: unknown[]; read: string[]; notRead: string[] };
    assert.deepEqual([v.changes.length, v.read, v.notRead.sort()], [0, [a], [b, r].sort()]);
    sh('ip', ['-n', a, 'link', 'set', 'eth0', 'mtu', '1300']);
    sh('ip', ['-n', a, 'route', 'add', '10.99.0.0/16', 'via', '10.71.0.254']);
    sh('ip', ['netns', 'exec', a, 'iptables', '-A', 'INPUT', '-p', 'icmp', '-j', 'ACCEPT']);
    const lines = planLines();
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.ok(lines.some((l) => /drift/.test(l)));
    const st = netlab(['status', lab, '--json'], env);
    assert.equal(st.code, 0, st.stderr);
    const doc = JSON.parse(st.stdout) as { labs: { lab: string; drift: number; nodes: string[] }[] };
    assert.deepEqual(
      doc.labs.map((l) => [l.lab, l.drift, l.nodes.length]),
      [[lab, 3, 3]],
    );
    // up --trust-verified does not read namespaces it verified before that nothing of netlab's
    // entered since: it says so, and the drift stays until a plain up (which reads them all).
    const trusting = netlab(['up', file, '--json', '--trust-verified'], env);
    assert.equal(trusting.code, 0, trusting.stderr);
    const t = JSON.parse(trusting.stdout) as { changes: unknown[]; read: string[]; notRead: string[] };
    assert.deepEqual([t.changes.length, t.read, t.notRead.sort()], [0, [], [a, b, r].sort()]);
    assert.equal(planLines().length, 3);
    // --refresh, the old way to ask for a full read, is still accepted.
    upOk('--refresh');
  });

  test('up --trust-verified reads what it cannot trust: a namespace entered by netlab exec, or re-created, or whose host end went', () => {
    // Each change below is invisible to a read of the host alone; even the trusting up must find it.
    assert.equal(netlab(['exec', lab, a, '--', 'ip', 'link', 'set', 'eth0', 'mtu', '1300'], env).code, 0);
    let u = netlab(['up', file, '--json', '--trust-verified'], env);
    assert.equal(u.code, 0, u.stderr);
    let doc = JSON.parse(u.stdout) as { changes: { text: string }[]; notRead: string[] };
    assert.deepEqual(doc.notRead.sort(), [b, r].sort(), 'the entered namespace was read, the others trusted');
    assert.deepEqual(doc.changes.map((c) => c.text).filter((x) => /mtu/.test(x)).length, 1, JSON.stringify(doc.changes));
    // Re-created by hand: same name, another namespace (another identity), not the lab's: up
    // reads it, refuses it and changes nothing; once it is removed, up makes the lab's again.
    sh('ip', ['netns', 'del', b]);
    sh('ip', ['netns', 'add', b]);
    u = netlab(['up', file, '--json', '--trust-verified'], env);
    assert.equal(u.code, 3, u.stderr);
    assert.match(u.stderr, new RegExp(`namespace '${b}' is not the one lab '${lab}' made: it was re-created since this lab made it \\(unmarked\\)`));
    sh('ip', ['netns', 'del', b]);
    u = netlab(['up', file, '--json', '--trust-verified'], env);
    assert.equal(u.code, 0, u.stderr);
    doc = JSON.parse(u.stdout) as { changes: { text: string }[]; notRead: string[] };
    assert.ok(!doc.notRead.includes(b), 'the re-made namespace was read');
    assert.ok(
      doc.changes.some((c) => c.text.includes(`namespace ${b}`)),
      JSON.stringify(doc.changes),
    );
    // A host-side veth end deleted by hand took its peer in r with it.
    sh('ip', ['link', 'del', `${p}pr`]);
    u = netlab(['up', file, '--json', '--trust-verified'], env);
    assert.equal(u.code, 0, u.stderr);
    doc = JSON.parse(u.stdout) as { changes: { text: string }[]; notRead: string[] };
    assert.ok(!doc.notRead.includes(r), 'the namespace whose host end went was read');
    upOk();
    assert.ok(ping(r, '10.71.0.2'), 'r reaches b again');
  });

  test('a node taken out of the file is removed, the rest is untouched', () => {
    write({ addrA: '10.71.0.11/24', mtu: 1400, withB: false });
    const lines = planLines();
    assert.ok(
      lines.some((l) => new RegExp(`-\\s+namespace ${b}`).test(l)),
      lines.join('\n'),
    );
    assert.equal(lines.filter((l) => /^\s*\+/.test(l)).length, 0, lines.join('\n'));
    upOk();
    assert.ok(
      !sh('ip', ['netns', 'list']).includes(`${b} `) &&
        !sh('ip', ['netns', 'list'])
          .split('\n')
          .some((l) => l.split(' ')[0] === b),
    );
    assert.ok(ping(a, '10.71.0.254'));
  });

  test('a re-wired link is re-made', () => {
    write({ addrA: '10.71.0.11/24', mtu: 1400, rewire: true });
    upOk();
    assert.ok(ping(b, '10.74.0.9'), 'b now talks to r directly');
    assert.ok(!sh('ip', ['link', 'show']).includes(`${p}pb`), 'the old bridge port is gone');
  });

  test('down removes everything, also after the file is deleted', () => {
    writeFileSync(file, 'garbage: [');
    const d = netlab(['down', lab], env);
    assert.equal(d.code, 0, d.stderr);
    assert.ok(
      !sh('ip', ['netns', 'list'])
        .split('\n')
        .some((l) => [a, b, r].includes(l.split(' ')[0]!)),
    );
    assert.ok(!sh('ip', ['link', 'show']).includes(br));
  });
});
