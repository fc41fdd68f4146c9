// netlab graph (pure: Lab -> Mermaid / DOT text, golden files) and the pure argument handling of
// exec, shell and capture. NETLAB_UPDATE_GOLDEN=1 rewrites the golden files in test/fixtures/graph/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLab } from '../../src/load/lab.js';
import { HOST, type Lab } from '../../src/model/types.js';
import { dotString, formatFromFileName, graph, mermaidComment, mermaidText, toDot, toMermaid, topology } from '../../src/ops/graph.js';
import { tcpdumpArgv, checkInterface } from '../../src/ops/capture.js';
import { pickShell, promptTag, shellLaunch } from '../../src/ops/shell.js';
import { shellWord } from '../../src/core/shell.js';
import { statusOf } from '../../src/runner/runner.js';
import { HOST_NODE, findProgram, inTarget } from '../../src/ops/target.js';
import { CliError, EXIT } from '../../src/core/errors.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const GOLDEN = join(ROOT, 'test/fixtures/graph');
const load = (text: string, file = 'lab.yaml') => loadLab(text, file);
const labFile = (name: string) => load(readFileSync(join(ROOT, 'labs', `${name}.yaml`), 'utf8'), `labs/${name}.yaml`);

function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.NETLAB_UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs from the golden file (NETLAB_UPDATE_GOLDEN=1 rewrites it after a deliberate change)`);
}

for (const name of ['bridge-4ns', 'calico-proxy-arp', 'docker-bridge']) {
  test(`graph ${name}: Mermaid and DOT match the golden files`, () => {
    const lab = labFile(name);
    golden(`${name}.mmd`, graph(lab, 'mermaid'));
    golden(`${name}.dot`, graph(lab, 'dot'));
  });
}

test('graph is deterministic and independent of where the file is', () => {
  const text = readFileSync(join(ROOT, 'labs/bridge-4ns.yaml'), 'utf8');
  const a = load(text, '/somewhere/a.yaml');
  const b = load(text, 'elsewhere/b.yaml');
  assert.equal(toMermaid(a), toMermaid(b));
  assert.equal(toDot(a), toDot(b));
});

test('topology: nodes, host bridges in the host group, in-node bridges tied to their node, links with names and addresses', () => {
  const t = topology(labFile('docker-bridge'));
  assert.deepEqual(
    t.nodes.map((n) => n.name),
    ['dockerhost', 'c1', 'c2', 'outside'],
  );
  assert.deepEqual(t.hostBridges, []);
  assert.deepEqual(
    t.nodeBridges.map((b) => [b.name, b.details]),
    [['docker0', ['bridge in dockerhost', '172.17.0.1/16']]],
  );
  assert.deepEqual(t.edges[0], { from: 'dockerhost', to: 'docker0', tail: [], head: [], within: true });
  assert.deepEqual(t.edges[1], { from: 'c1', to: 'docker0', tail: ['eth0', '172.17.0.2/16'], head: ['veth-c1'] });
  const h = topology(labFile('bridge-4ns'));
  assert.deepEqual(
    h.hostBridges.map((b) => b.name),
    ['br1'],
  );
  assert.equal(h.edges.length, 4);
});

test('graph: mtu, IPv6 and several addresses per end', () => {
  const lab = load(`name: six
nodes: {a: , b: }
links:
  - endpoints: [{node: a, name: e0, addresses: ["2001:db8::1/64", 10.0.0.1/24]}, {node: b, name: e0, addresses: ["2001:db8::2/64"]}]
    mtu: 1400
`);
  assert.match(toMermaid(lab), /n0 ---\|"e0 2001:db8::1\/64 10\.0\.0\.1\/24 — e0 2001:db8::2\/64 \(mtu 1400\)"\| n1/);
  assert.match(toDot(lab), /"a" -- "b" \[taillabel="e0\\n2001:db8::1\/64\\n10\.0\.0\.1\/24", headlabel="e0\\n2001:db8::2\/64", label="mtu 1400"\];/);
});

test('escaping: DOT strings cannot be closed or turned into escapes', () => {
  assert.equal(dotString('plain'), '"plain"');
  assert.equal(dotString('a"b'), '"a\\"b"');
  assert.equal(dotString('back\\slash'), '"back\\\\slash"');
  assert.equal(dotString('\\N \\l \\G'), '"\\\\N \\\\l \\\\G"', 'no Graphviz escape survives');
  assert.equal(dotString('two\nlines\r\nthree'), '"two\\nlines\\nthree"');
  assert.equal(dotString('"; } digraph x { "'), '"\\"; } digraph x { \\""');
});

test('escaping: a Mermaid comment is one line and holds no directive', () => {
  assert.equal(mermaidComment('a\nb\r\nc'), 'a b c');
  assert.equal(mermaidComment('x %%{init: {"theme": "dark"}}%% y'), 'x %% {init: {"theme": "dark"}}%% y');
  assert.ok(!mermaidComment('%%%{%%{{').includes('%%{'));
});

test('escaping: Mermaid labels use entity codes for quotes, #, markup, pipes and backticks', () => {
  assert.equal(mermaidText('plain-name.1'), 'plain-name.1');
  assert.equal(mermaidText('a"b'), 'a#34;b');
  assert.equal(mermaidText('#1'), '#35;1', 'a literal # cannot start an entity');
  assert.equal(mermaidText('<b>&'), '#60;b#62;#38;');
  assert.equal(mermaidText('x|y`z'), 'x#124;y#96;z');
  assert.equal(mermaidText('two\nlines'), 'two lines');
});

/** Names the loader would refuse, to prove the writers escape whatever a Lab holds. */
function evilLab(): Lab {
  const lab = load(`name: weird
description: "Quotes \\" # hash <b>x</b> & | \`t\` \\\\N %%{init: {}}%%\\nsecond line"
nodes: {a: , b: }
bridges: {br0: {addresses: 10.9.0.1/24}}
links:
  - endpoints: [a:e0, br0:p0]
  - endpoints: [a:e1, b:e1]
    addresses: {a: 10.1.0.1/24}
`);
  const rename = (s: string) => (s === 'a' ? 'a"<x>\\N' : s);
  return {
    ...lab,
    name: 'we"ird\\lab',
    nodes: new Map([...lab.nodes].map(([k, v]) => [rename(k), v])),
    links: lab.links.map((l) => ({ ...l, ends: [{ ...l.ends[0], at: rename(l.ends[0].at), name: `${l.ends[0].name}"|#` }, l.ends[1]] })),
  };
}

test('escaping: a lab with quotes, backslashes and markup in every string (golden)', () => {
  const lab = evilLab();
  const m = toMermaid(lab);
  const d = toDot(lab);
  golden('escaping.mmd', m);
  golden('escaping.dot', d);
  // Mermaid: the title is a JSON (YAML double-quoted) string; the description stays one comment line.
  assert.match(m, /^---\ntitle: "we\\"ird\\\\lab"\n---\nflowchart LR\n/);
  assert.match(m, /^ {2}%% Quotes " # hash <b>x<\/b> & \| `t` \\N %% \{init: \{\}\}%% second line$/m);
  assert.ok(!/\["[^"]*"[^\]]*"\]/.test(m.replace(/^ {2}%%.*$/m, '')), 'no raw quote inside a quoted Mermaid label');
  assert.match(m, /n0\["a#34;#60;x#62;\\N"\]/);
  // DOT: every quote inside a string is escaped; the string count is even on every line.
  for (const line of d.split('\n')) assert.equal((line.replace(/\\\\/g, '').replace(/\\"/g, '').match(/"/g) ?? []).length % 2, 0, line);
  assert.match(d, /^graph "we\\"ird\\\\lab" \{$/m);
  assert.match(d, /"a\\"<x>\\\\N" -- "br0" \[taillabel="e0\\"\|#", headlabel="p0"\];/);
});

test('formatFromFileName: -o decides the format when --format is not given', () => {
  assert.equal(formatFromFileName('lab.svg'), 'svg');
  assert.equal(formatFromFileName('x/LAB.PNG'), 'png');
  assert.equal(formatFromFileName('lab.gv'), 'dot');
  assert.equal(formatFromFileName('lab.dot'), 'dot');
  assert.equal(formatFromFileName('lab.mmd'), 'mermaid');
  assert.equal(formatFromFileName('lab.txt'), undefined);
  assert.equal(formatFromFileName(undefined), undefined);
});

test('capture: tcpdump argv (packet-buffered, numeric, pcap to stdout with -w, filter after --)', () => {
  assert.deepEqual(tcpdumpArgv('eth0', { filter: [] }), ['tcpdump', '-i', 'eth0', '-n', '-U']);
  assert.deepEqual(tcpdumpArgv('eth0', { write: 'x.pcap', count: 3, filter: ['icmp', 'and', 'host', '10.0.0.1'] }, '/usr/bin/tcpdump'), [
    '/usr/bin/tcpdump',
    '-i',
    'eth0',
    '-n',
    '-U',
    '-w',
    '-',
    '-c',
    '3',
    '--',
    'icmp',
    'and',
    'host',
    '10.0.0.1',
  ]);
  assert.deepEqual(inTarget({ ns: 'ns1' }, ['tcpdump']), ['ip', 'netns', 'exec', 'ns1', 'tcpdump']);
  assert.deepEqual(inTarget({ ns: HOST }, ['tcpdump']), ['tcpdump'], '@host runs in the root namespace as it is');
});

test('capture: an unknown interface names the node and lists its interfaces', () => {
  const t = { lab: 'l', node: 'ns1', ns: 'ns1' };
  checkInterface('eth0', ['lo', 'eth0'], t);
  checkInterface('any', ['lo', 'eth0'], t);
  assert.throws(
    () => checkInterface('eth1', ['lo', 'eth0'], t),
    (e: unknown) =>
      e instanceof CliError &&
      e.code === EXIT.error &&
      e.message === "node ns1 of lab l has no interface 'eth1'" &&
      e.hint === "did you mean 'eth0'? its interfaces: lo, eth0; or 'any' for all of them",
  );
  assert.throws(() => checkInterface('eth0', ['br1', 'tap1_peer'], { lab: 'l', node: HOST_NODE, ns: HOST }), /lab l has no host interface 'eth0'/);
});

test("shell: the prompt tag, bash's rcfile, zsh's ZDOTDIR, PS1 for other shells", () => {
  assert.equal(promptTag('bridge-4ns', 'ns1'), '[bridge-4ns:ns1]');
  assert.equal(promptTag('l', '@host'), '[l:@host]');
  assert.equal(promptTag('l$(x)', 'n`y`\\'), '[l__x_:n_y__]', 'nothing a prompt would expand');
  assert.equal(shellWord("it's"), `'it'\\''s'`);
  const env = { HOME: '/root', PATH: '/usr/bin' };
  const bash = shellLaunch('/usr/bin/bash', '[lab:ns1]', env, '/tmp/t');
  assert.deepEqual(bash.argv, ['/usr/bin/bash', '--rcfile', '/tmp/t/bashrc']);
  const rc = bash.files.get('/tmp/t/bashrc')!;
  assert.match(rc, /\. ~\/\.bashrc\n/);
  assert.match(rc, /^PS1='\[lab:ns1\] \\w\\\$ '$/m);
  assert.ok(rc.indexOf('.bashrc') < rc.indexOf('PS1='), 'the prompt is set after ~/.bashrc');
  const zsh = shellLaunch('/bin/zsh', '[lab:ns1]', env, '/tmp/z');
  assert.equal(zsh.env.ZDOTDIR, '/tmp/z');
  assert.match(zsh.files.get('/tmp/z/.zshrc')!, /\. \/root\/\.zshrc[\s\S]*PROMPT='\[lab:ns1\] %~%# '/);
  const dash = shellLaunch('/bin/dash', '[lab:ns1]', env, '/tmp/d');
  assert.deepEqual([dash.argv, dash.env.PS1, dash.files.size], [['/bin/dash'], '[lab:ns1] $ ', 0]);
});

test('shell: $SHELL when usable, else bash, else sh', () => {
  const have = (names: string[]) => (cmd: string) => (names.includes(cmd) ? { path: cmd.includes('/') ? cmd : `/usr/bin/${cmd}` } : { error: 'not-found' as const });
  assert.equal(pickShell({ SHELL: '/bin/zsh' }, have(['/bin/zsh', 'bash'])), '/bin/zsh');
  assert.equal(pickShell({ SHELL: '/usr/sbin/nologin' }, have(['/usr/sbin/nologin', 'bash'])), '/usr/bin/bash');
  assert.equal(pickShell({ SHELL: '/opt/gone' }, have(['bash'])), '/usr/bin/bash');
  assert.equal(pickShell({}, have([])), '/bin/sh');
});

test('exec: exit status as a shell reports it; programs found as execvp finds them', () => {
  assert.equal(statusOf(0, null), 0);
  assert.equal(statusOf(3, null), 3);
  assert.equal(statusOf(null, 'SIGTERM'), 143);
  assert.equal(statusOf(null, 'SIGKILL'), 137);
  const dir = mkdtempSync(join(tmpdir(), 'netlab-find-'));
  try {
    writeFileSync(join(dir, 'tool'), '#!/bin/sh\n');
    chmodSync(join(dir, 'tool'), 0o755);
    writeFileSync(join(dir, 'data'), '');
    mkdirSync(join(dir, 'sub'));
    assert.deepEqual(findProgram('tool', `/nonexistent:${dir}`), { path: join(dir, 'tool') });
    assert.deepEqual(findProgram('nothing', dir), { error: 'not-found' });
    assert.deepEqual(findProgram(join(dir, 'tool'), ''), { path: join(dir, 'tool') });
    assert.deepEqual(findProgram(join(dir, 'missing'), ''), { error: 'not-found', path: join(dir, 'missing') });
    assert.deepEqual(findProgram(join(dir, 'sub'), ''), { error: 'not-executable', path: join(dir, 'sub') });
    assert.deepEqual(findProgram('data', dir), { error: 'not-executable', path: join(dir, 'data') });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
