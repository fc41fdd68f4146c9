// Lab validation: every invalid fixture reports exactly the problems its header announces, every
// shipped lab validates, and the short forms normalize to the fields the rest of netlab reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { readdirSync, readFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { loadLab, loadLabFile } from '../../src/load/lab.js';
import { LabError, formatProblem, type Problem } from '../../src/load/problems.js';
import type { Lab } from '../../src/model/types.js';
import { printable } from '../../src/cli/exit.js';

const INVALID_DIR = fileURLToPath(new URL('../../../test/fixtures/invalid/', import.meta.url));
const LABS_DIR = fileURLToPath(new URL('../../../labs/', import.meta.url));

interface Expectation {
  line: number;
  col: number;
  /** "path: message" (or just the message when the path is empty), possibly cut short. */
  text: string;
  /** Substrings the problem's hint must contain. */
  hints: string[];
  source: string;
}

/**
 * Reads the header comments of a fixture:
 *   # expect: LINE:COL PATH: MESSAGE-PREFIX
 *   #   hint: HINT-SUBSTRING          (applies to the expect line above it)
 */
function expectations(text: string): Expectation[] {
  const out: Expectation[] = [];
  for (const raw of text.split('\n')) {
    const exp = /^# expect: (\d+):(\d+) (.+)$/.exec(raw);
    if (exp) {
      out.push({ line: Number(exp[1]), col: Number(exp[2]), text: exp[3]!.trimEnd(), hints: [], source: raw });
      continue;
    }
    const hint = /^#\s+hint: (.+)$/.exec(raw);
    if (hint) {
      const last = out[out.length - 1];
      assert.ok(last, `'hint:' before any 'expect:' line: ${raw}`);
      last.hints.push(hint[1]!.trimEnd());
    }
  }
  return out;
}

function matches(e: Expectation, p: Problem): boolean {
  if (p.line !== e.line || p.col !== e.col) return false;
  // As a terminal prints it: control characters escaped (printable).
  const full = printable(p.path ? `${p.path}: ${p.message}` : p.message);
  // The expectation must spell out the whole path and at least the start of the message.
  if (e.text.length <= (p.path ? p.path.length + 2 : 0)) return false;
  if (!full.startsWith(e.text)) return false;
  return e.hints.every((h) => (p.hint ?? '').includes(h));
}

function problemsOf(text: string, file: string): Problem[] {
  try {
    loadLab(text, file);
  } catch (err) {
    if (err instanceof LabError) return err.problems;
    throw err;
  }
  return [];
}

const fixtures = readdirSync(INVALID_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

test('there are enough invalid fixtures', () => {
  assert.ok(fixtures.length >= 45, `only ${fixtures.length} fixtures in ${INVALID_DIR}`);
});

for (const name of fixtures) {
  test(`invalid/${name}`, () => {
    const file = join(INVALID_DIR, name);
    const text = readFileSync(file, 'utf8');
    const expected = expectations(text);
    assert.ok(expected.length > 0, `${name} has no '# expect:' header`);
    const problems = problemsOf(text, name);
    const shown = () => (problems.length ? problems.map((p) => `    ${formatProblem(p).replace(/\n/g, '\n    ')}`).join('\n') : '    (none: the lab is valid)');
    const left = [...problems];
    for (const e of expected) {
      const i = left.findIndex((p) => matches(e, p));
      assert.ok(i >= 0, `${name}: expected problem not reported:\n    ${e.source}\n  reported:\n${shown()}`);
      left.splice(i, 1);
    }
    assert.equal(left.length, 0, `${name}: problems reported beyond the expected ones:\n${left.map((p) => `    ${formatProblem(p)}`).join('\n')}`);
    for (const p of problems) assert.equal(p.file, name);
    // What a terminal gets: one line per problem and hint, no control character (a NUL, an escape).
    for (const p of problems) assert.doesNotMatch(formatProblem(p), /[\x00-\x08\x0b-\x1f\x7f]/, `${name}: a control character printed raw`);
  });
}

// ---------------------------------------------------------------------------------------------
// Shipped labs

const labFiles = readdirSync(LABS_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

test('labs/ has lab files', () => {
  assert.ok(labFiles.length > 0);
});

for (const name of labFiles) {
  test(`labs/${name} validates on this kernel`, () => {
    try {
      const lab = loadLabFile(join(LABS_DIR, name));
      assert.ok(lab.name);
    } catch (err) {
      if (err instanceof LabError) assert.fail(`labs/${name} is invalid:\n${err.message}`);
      throw err;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Short forms, normalized

function load(text: string): Lab {
  try {
    return loadLab(text, 'inline.yaml');
  } catch (err) {
    if (err instanceof LabError) assert.fail(`inline lab is invalid:\n${err.message}`);
    throw err;
  }
}

/** Drops the source paths, which the tests below do not care about. */
function strip<T>(v: T): T {
  return JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'path' ? undefined : x))) as T;
}

const TWO_NODES = `
name: short-forms
nodes:
  ns1:
    routes:
      - default via 192.168.20.1
      - local default dev lo table 100
      - 169.254.1.1 dev eth0 scope link
      - 10.9.0.0/16 via 169.254.1.1 metric 50
      - blackhole 10.66.0.0/16
      - 2001:db8:2::/48 via 2001:db8::2
      - default via fe80::1 dev eth0 table 200
      - {to: 10.10.0.0/16, via: 192.168.20.1, table: main, metric: 7, src: 192.168.20.2}
    rules:
      - fwmark 0x1/0x1 pref 100 table 100
      - from 192.168.20.0/24 lookup 200
      - {iif: eth0, fwmark: 2, table: local, pref: 5}
      - to 2001:db8::/32 table main
    sysctls:
      net.ipv4.ip_forward: 1
      net/ipv4/conf/eth0/proxy_arp: true
      net.ipv4.conf.all.rp_filter: 0
    iptables:
      filter:
        INPUT: {policy: DROP, rules: ['-i lo -j ACCEPT', '-j from-lab']}
        FORWARD: ['-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT']
        from-lab:
          rules: ['-s 192.168.20.0/24 -j ACCEPT', '-j RETURN']
      mangle:
        PREROUTING: ['-p tcp --dport 80 -j MARK --set-mark 0x1']
  ns2:
links:
  - endpoints:
      - ns1:eth0
      - {node: ns2, name: eth0, addresses: [192.168.20.1/24, 2001:db8::2/64], mtu: 1400, mac: AA:BB:CC:DD:EE:01, up: false}
    addresses: {ns1: [192.168.20.2/24, 2001:db8::1/64]}
    mtu: 9000
`;

test('route strings normalize to RouteSpec fields', () => {
  const routes = strip(load(TWO_NODES).nodes.get('ns1')!.routes);
  assert.deepEqual(routes, [
    { type: 'unicast', to: '0.0.0.0/0', family: 'ipv4', via: '192.168.20.1', table: 254 },
    { type: 'local', to: '0.0.0.0/0', family: 'ipv4', dev: 'lo', table: 100 },
    { type: 'unicast', to: '169.254.1.1/32', family: 'ipv4', dev: 'eth0', scope: 'link', table: 254 },
    { type: 'unicast', to: '10.9.0.0/16', family: 'ipv4', via: '169.254.1.1', metric: 50, table: 254 },
    { type: 'blackhole', to: '10.66.0.0/16', family: 'ipv4', table: 254 },
    { type: 'unicast', to: '2001:db8:2::/48', family: 'ipv6', via: '2001:db8::2', table: 254 },
    { type: 'unicast', to: '::/0', family: 'ipv6', via: 'fe80::1', dev: 'eth0', table: 200 },
    { type: 'unicast', to: '10.10.0.0/16', family: 'ipv4', via: '192.168.20.1', metric: 7, table: 254, src: '192.168.20.2' },
  ]);
});

test('rule strings and objects normalize to RuleSpec fields', () => {
  const rules = strip(load(TWO_NODES).nodes.get('ns1')!.rules);
  assert.deepEqual(rules, [
    { family: 'ipv4', fwmark: '0x1/0x1', pref: 100, table: 100 },
    { family: 'ipv4', from: '192.168.20.0/24', table: 200 },
    { family: 'ipv4', fwmark: '0x2', iif: 'eth0', pref: 5, table: 255 },
    { family: 'ipv6', to: '2001:db8::/32', table: 254 },
  ]);
});

test('endpoint short and long forms, and the link addresses map', () => {
  const lab = load(TWO_NODES);
  assert.equal(lab.links.length, 1);
  const [a, b] = strip(lab.links[0]!.ends);
  // Short form: the addresses come from the link's map, the MTU from the link.
  assert.deepEqual(a, { at: 'ns1', ns: 'ns1', name: 'eth0', addresses: [{ cidr: '192.168.20.2/24' }, { cidr: '2001:db8::1/64' }], up: true, mtu: 9000 });
  // Long form: its own settings win over the link's; the MAC is lower-cased.
  assert.deepEqual(b, {
    at: 'ns2',
    ns: 'ns2',
    name: 'eth0',
    addresses: [{ cidr: '192.168.20.1/24' }, { cidr: '2001:db8::2/64' }],
    up: false,
    mtu: 1400,
    mac: 'aa:bb:cc:dd:ee:01',
  });
  // Source paths point into the file: the map entry for the short form, the end's own list otherwise.
  assert.deepEqual(lab.links[0]!.ends[0].addresses[1]!.path, ['links', 0, 'addresses', 'ns1', 1]);
  assert.deepEqual(lab.links[0]!.ends[1].addresses[0]!.path, ['links', 0, 'endpoints', 1, 'addresses', 0]);
});

test('iptables: policy and custom-chain long forms', () => {
  const ipt = load(TWO_NODES).nodes.get('ns1')!.iptables;
  const filter = strip(ipt.ipv4.get('filter'));
  assert.deepEqual(filter, [
    { name: 'INPUT', builtin: true, rules: [{ text: '-i lo -j ACCEPT' }, { text: '-j from-lab' }], policy: 'DROP' },
    { name: 'FORWARD', builtin: true, rules: [{ text: '-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT' }] },
    { name: 'from-lab', builtin: false, rules: [{ text: '-s 192.168.20.0/24 -j ACCEPT' }, { text: '-j RETURN' }] },
  ]);
  assert.deepEqual(strip(ipt.ipv4.get('mangle')), [{ name: 'PREROUTING', builtin: true, rules: [{ text: '-p tcp --dport 80 -j MARK --set-mark 0x1' }] }]);
  assert.equal(ipt.ipv4.has('nat'), false);
  assert.equal(ipt.ipv6.size, 0);
});

test('sysctls: dots and slashes, booleans, per-interface keys', () => {
  const sysctls = strip(load(TWO_NODES).nodes.get('ns1')!.sysctls);
  assert.deepEqual(sysctls, [
    { key: 'net/ipv4/ip_forward', value: '1' },
    { key: 'net/ipv4/conf/eth0/proxy_arp', value: '1' },
    { key: 'net/ipv4/conf/all/rp_filter', value: '0' },
  ]);
});

test('bridges, bridge ports and host sysctls', () => {
  const lab = load(`
name: bridged
ipv6_link_local: false
nodes:
  ns1:
  r1:
    routes: [default via 10.1.0.1]
bridges:
  br1: {addresses: 192.168.20.254/24, mtu: 1400}
  br2: {node: r1, addresses: [10.1.0.1/24]}
links:
  - endpoints: [ns1:tap1, br1:tap1_peer]
    addresses: {ns1: 192.168.20.1/24}
  - endpoints: [r1:up0, br2:up0_peer]
    addresses: {r1: 10.1.0.2/24}
host:
  sysctls:
    net.ipv4.conf.br1.proxy_arp: 1
    net.ipv4.conf.tap1_peer.rp_filter: 0
    net.core.somaxconn: 1024
  iptables:
    nat:
      POSTROUTING: ['-s 192.168.20.0/24 -j MASQUERADE']
`);
  assert.equal(lab.ipv6LinkLocal, false);
  assert.deepEqual(strip([...lab.bridges.values()]), [
    { name: 'br1', ns: '', addresses: [{ cidr: '192.168.20.254/24' }], up: true, mtu: 1400 },
    { name: 'br2', ns: 'r1', addresses: [{ cidr: '10.1.0.1/24' }], up: true },
  ]);
  const ends = lab.links.map((l) => l.ends.map((e) => `${e.ns || 'host'}/${e.name}${e.master ? `@${e.master}` : ''}`));
  assert.deepEqual(ends, [
    ['ns1/tap1', 'host/tap1_peer@br1'],
    ['r1/up0', 'r1/up0_peer@br2'],
  ]);
  assert.deepEqual(
    lab.host.sysctls.map((s) => `${s.key}=${s.value}`),
    ['net/ipv4/conf/br1/proxy_arp=1', 'net/ipv4/conf/tap1_peer/rp_filter=0', 'net/core/somaxconn=1024'],
  );
  assert.deepEqual(strip(lab.host.iptables.ipv4.get('nat')), [{ name: 'POSTROUTING', builtin: true, rules: [{ text: '-s 192.168.20.0/24 -j MASQUERADE' }] }]);
});

test('a gateway reached through an on-link route, or marked onlink, is accepted', () => {
  const lab = load(`
name: onlink
nodes:
  ns1:
    routes:
      - 169.254.1.1 dev eth0 scope link
      - default via 169.254.1.1
      - 10.0.0.0/8 via 172.16.0.1 dev eth0 onlink
  ns2:
links:
  - endpoints: [ns1:eth0, ns2:eth0]
    addresses: {ns1: 10.200.0.1/32}
`);
  assert.deepEqual(
    lab.nodes.get('ns1')!.routes.map((r) => [r.to, r.via ?? '', r.onlink ?? false]),
    [
      ['169.254.1.1/32', '', false],
      ['0.0.0.0/0', '169.254.1.1', false],
      ['10.0.0.0/8', '172.16.0.1', true],
    ],
  );
});

test('every problem of a phase is reported at once, in file order', () => {
  const text = `name: many
nodes:
  ns1:
    routes: [10.0.0.1/8 dev eth9]
links:
  - endpoints: [ns1:eth0, ns3:eth0]
  - endpoints: [ns1:eth1, ns1:eth1]
`;
  const ps = problemsOf(text, 'many.yaml');
  assert.deepEqual(
    ps.map((p) => `${p.line}:${p.col} ${p.path}`),
    ['4:14 nodes.ns1.routes[0]', '6:27 links[0].endpoints[1]', '7:27 links[1].endpoints[1]'],
  );
  assert.match(ps.map(formatProblem).join('\n'), /^many\.yaml:4:14: error: nodes\.ns1\.routes\[0\]: destination 10\.0\.0\.1\/8 has host bits set\n {2}hint: did you mean 10\.0\.0\.0\/8\?/);
});

// ---------------------------------------------------------------------------------------------
// Validation does not depend on the namespace netlab runs in

test('sysctls validate by their shape alone: nothing under /proc is read, unknown leaves are for apply to find', () => {
  const seen: string[] = [];
  const names = ['statSync', 'lstatSync', 'existsSync', 'accessSync', 'readFileSync', 'readdirSync', 'openSync'] as const;
  const saved = new Map(names.map((n) => [n, fs[n]]));
  for (const n of names) {
    const orig = saved.get(n) as (...a: unknown[]) => unknown;
    (fs as unknown as Record<string, unknown>)[n] = (...a: unknown[]) => {
      if (String(a[0]).startsWith('/proc')) seen.push(`${n} ${String(a[0])}`);
      return orig(...a);
    };
  }
  syncBuiltinESMExports();
  try {
    const lab = load(`
name: sysctl-shapes
nodes:
  host:
    sysctls:
      net.ipv4.neigh.cali1.proxy_delay: 0
      net.ipv4.conf.cali1.no_such_leaf_anywhere: 1
      net.core.rmem_max: 1048576
  pod:
links:
  - endpoints: [pod:eth0, host:cali1]
host:
  sysctls:
    net.ipv4.neigh.default.gc_thresh1: 1024
    net.ipv4.neigh.default.gc_thresh3: 4096
    net.core.somaxconn: 4096
`);
    assert.deepEqual(
      lab.host.sysctls.map((s) => s.key),
      ['net/ipv4/neigh/default/gc_thresh1', 'net/ipv4/neigh/default/gc_thresh3', 'net/core/somaxconn'],
    );
    assert.equal(lab.nodes.get('host')!.sysctls.length, 3);
  } finally {
    for (const n of names) (fs as unknown as Record<string, unknown>)[n] = saved.get(n);
    syncBuiltinESMExports();
  }
  assert.deepEqual(seen, [], 'validation read /proc');
});
