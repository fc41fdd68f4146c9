// exec, shell, capture and graph on the real kernel, against a small lab of the test's own (unique
// names: other labs may be up at the same time).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Terminal, noTerminal } from '../lib/terminal.js';
import { CLI, LABS, hostLinks, netlab, netlabAsync, netnsList, removeExact, stateDir, tryRun, uid, waitFor } from '../lib/host.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };
const p = uid();
const LAB = `ops-${p}`;
const A = `${p}a`;
const B = `${p}b`;
const BR = `${p}br`;
const PORT = `${p}p`;
const FILE = join(state.dir, `${LAB}.yaml`);

/** Runs the CLI with standard input and extra environment. */
function run(args: string[], opts: { input?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input: opts.input ?? '', env: { ...process.env, ...env, ...opts.env }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const noStack = (s: string) => assert.ok(!/\n\s+at .+:\d+:\d+\)?\n/.test(s) && !/internal error/.test(s), `a stack trace was printed:\n${s}`);

describe('exec, shell, capture on a lab that is up', () => {
  before(() => {
    writeFileSync(
      FILE,
      `name: ${LAB}
description: exec, shell and capture tests
nodes:
  ${A}:
  ${B}:
bridges:
  ${BR}: {}
links:
  - endpoints: [${A}:eth0, ${B}:eth0]
    addresses: {${A}: 10.79.0.1/24, ${B}: 10.79.0.2/24}
  - endpoints: [${A}:up0, ${BR}:${PORT}]
    addresses: {${A}: 10.80.0.1/24}
`,
    );
    const u = netlab(['up', FILE, '--no-checks'], env);
    assert.equal(u.code, 0, u.stdout + u.stderr);
  });

  after(() => {
    const d = netlab(['down', LAB], env);
    removeExact([A, B], [BR, PORT]);
    state.cleanup();
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(
      netnsList().filter((n) => n === A || n === B),
      [],
    );
    assert.ok(!hostLinks().includes(BR));
  });

  test("exec passes the command's exit status and output through, by lab name or lab file", () => {
    assert.equal(run(['exec', LAB, A, '--', 'true']).code, 0);
    assert.equal(run(['exec', LAB, A, '--', 'sh', '-c', 'exit 3']).code, 3);
    assert.equal(run(['exec', FILE, B, '--', 'sh', '-c', 'exit 42']).code, 42);
    const addr = run(['exec', LAB, A, '--', 'ip', '-br', 'addr', 'show', 'eth0']);
    assert.equal(addr.code, 0, addr.stderr);
    assert.match(addr.stdout, /^eth0@\S+\s+UP\s+10\.79\.0\.1\/24/, "the node's own interfaces");
    // Options of the command without --, standard input passed through, the lab in the environment.
    const ping = run(['exec', LAB, A, 'ping', '-c1', '-W2', '10.79.0.2']);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.match(ping.stdout, /1 received/);
    const cat = run(['exec', LAB, B, '--', 'sh', '-c', 'echo "$NETLAB_LAB/$NETLAB_NODE"; tr a-z A-Z'], { input: 'piped\n' });
    assert.equal(cat.stdout, `${LAB}/${B}\nPIPED\n`);
    const err = run(['exec', LAB, A, '--', 'sh', '-c', 'echo oops >&2; exit 1']);
    assert.deepEqual([err.code, err.stderr], [1, 'oops\n'], "the command's standard error is its own");
    assert.equal(run(['exec', LAB, A, '--', 'sh', '-c', 'kill -TERM $$']).code, 143, 'killed by SIGTERM: 128+15');
    assert.equal(run(['exec', LAB, A, '--', 'ping', '-c1', '-W1', '10.80.0.99']).code, 1, "ping's own failure status");
  });

  test('exec: a command that cannot run exits 127/126 as in a shell', () => {
    const missing = run(['exec', LAB, A, '--', 'no-such-command-xyz']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /^error: no-such-command-xyz: command not found \(in node \S+ of lab ops-\S+\)\n {2}hint: /);
    const notExec = run(['exec', LAB, A, '--', '/etc/passwd']);
    assert.equal(notExec.code, 126);
    assert.match(notExec.stderr, /permission denied/);
  });

  test('exec: an unknown node exits 1 with a did-you-mean and the list of nodes; a lab that is not up exits 3', () => {
    const wrong = run(['exec', LAB, `${p}c`, '--', 'true']);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stderr, `error: lab ${LAB} has no node '${p}c'\n  hint: did you mean '${A}'? its nodes: ${A}, ${B}; @host is the host's root namespace (${BR}, ${PORT})\n`);
    noStack(wrong.stderr);
    // A near miss (one letter) gets a did-you-mean; a name like no lab gets the list of labs up.
    const notUp = run(['exec', `${LAB}x`, A, '--', 'true']);
    assert.equal(notUp.code, 3);
    assert.match(notUp.stderr, new RegExp(`^error: lab ${LAB}x is not up\\n  hint: run 'netlab up FILE' first; did you mean '${LAB}'\\?`));
    const farOff = run(['exec', 'zz-no-such-lab-at-all', A, '--', 'true']);
    assert.equal(farOff.code, 3);
    assert.match(farOff.stderr, new RegExp(`^error: lab zz-no-such-lab-at-all is not up\\n  hint: run 'netlab up FILE' first; labs that are up: .*\\b${LAB}\\b`));
    const noFile = run(['exec', join(state.dir, 'missing.yaml'), A, '--', 'true']);
    assert.equal(noFile.code, 2, 'a lab file that cannot be read is reported as such');
    assert.match(noFile.stderr, /cannot read the lab file/);
    const usage = run(['exec', LAB, A]);
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /missing required argument 'command'/);
  });

  test('exec @host runs in the root namespace, which has the lab bridge', () => {
    const r = run(['exec', LAB, '@host', '--', 'ip', '-br', 'link', 'show', BR]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${BR}\\s+UP`));
  });

  test("shell reads commands from a pipe and exits with the shell's status", () => {
    for (const shell of ['/bin/bash', '/bin/sh']) {
      const r = run(['shell', LAB, B], { input: 'ip -br link; echo "lab=$NETLAB_LAB node=$NETLAB_NODE"; exit 7\n', env: { SHELL: shell } });
      assert.equal(r.code, 7, `${shell}: ${r.stderr}`);
      assert.match(r.stdout, /^lo\s+UNKNOWN/m, "the namespace's links");
      assert.match(r.stdout, /^eth0@\S+\s+UP/m);
      assert.ok(!/up0/.test(r.stdout), 'only the links of this node');
      assert.match(r.stdout, new RegExp(`lab=${LAB} node=${B}`));
    }
    const bad = run(['shell', LAB, 'nosuchnode']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /has no node 'nosuchnode'/);
  });

  test('shell in a terminal: the prompt names the lab and the node; Ctrl-C does not end netlab', { skip: noTerminal() }, async () => {
    const term = Terminal.start(`env NETLAB_STATE_DIR=${state.dir} SHELL=/bin/bash ${process.execPath} ${CLI} shell ${LAB} ${A}`, 100, 30);
    const screen = () => term.screen();
    try {
      assert.ok(await waitFor(() => screen().includes(`[${LAB}:${A}] `), 10_000), `no prompt:\n${screen()}`);
      term.keys('ip -br addr show eth0', 'Enter');
      assert.ok(await waitFor(() => /10\.79\.0\.1\/24/.test(screen()), 5000), screen());
      term.keys('sleep 30', 'Enter');
      await new Promise((r) => setTimeout(r, 300));
      term.keys('C-c');
      term.keys('echo still-here; exit 4', 'Enter');
      assert.ok(await waitFor(() => /EXIT=\d+/.test(screen()), 10_000), screen());
      const s = screen();
      assert.match(s, /^still-here$/m);
      assert.match(s, /EXIT=4/);
    } finally {
      term.close();
    }
  });

  test('capture -c 3 -w FILE while the nodes ping: a valid pcap that tcpdump reads back, 3 packets', async () => {
    const pcap = join(state.dir, 'cap.pcap');
    const child = netlabAsync(['capture', LAB, B, 'eth0', '-c', '3', '-w', pcap, 'icmp'], env);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((r) => child.once('close', (code) => r(code ?? -1)));
    try {
      assert.ok(await waitFor(() => /listening on eth0/.test(stderr), 10_000), `tcpdump did not start: ${stderr}`);
      tryRun('ip', ['netns', 'exec', A, 'ping', '-c', '4', '-i', '0.2', '-W', '1', '10.79.0.2']);
      const code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-2), 10_000))]);
      assert.equal(code, 0, stderr);
    } finally {
      child.kill('SIGTERM');
    }
    assert.match(stderr, /3 packets captured/);
    const head = readFileSync(pcap);
    assert.ok(head.length > 24, 'a pcap header and packets');
    assert.ok([0xa1b2c3d4, 0xa1b23c4d].includes(head.readUInt32LE(0)) || [0xa1b2c3d4, 0xa1b23c4d].includes(head.readUInt32BE(0)), `pcap magic, got ${head.subarray(0, 4).toString('hex')}`);
    const back = spawnSync('tcpdump', ['-r', pcap, '-n'], { encoding: 'utf8' });
    assert.equal(back.status, 0, back.stderr);
    const lines = back.stdout.trim().split('\n');
    assert.equal(lines.length, 3, back.stdout);
    assert.ok(
      lines.every((l) => /10\.79\.0\.[12] > 10\.79\.0\.[12]: ICMP echo (request|reply)/.test(l)),
      back.stdout,
    );
  });

  test('capture without -w prints decoded packets; @host captures on the lab bridge', async () => {
    for (const [node, iface, target] of [
      [A, 'eth0', '10.79.0.2'],
      ['@host', PORT, '10.80.0.2'],
    ] as const) {
      const child = netlabAsync(['capture', LAB, node, iface, '-c', '2', ...(node === A ? ['icmp'] : ['arp', 'or', 'icmp'])], env);
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number>((r) => child.once('close', (code) => r(code ?? -1)));
      try {
        assert.ok(await waitFor(() => /listening on/.test(err), 10_000), err);
        tryRun('ip', ['netns', 'exec', A, 'ping', '-c', '3', '-i', '0.2', '-W', '1', target]);
        const code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-2), 10_000))]);
        assert.equal(code, 0, `${node}: ${err}`);
      } finally {
        child.kill('SIGTERM');
      }
      assert.equal(out.trim().split('\n').length, 2, out);
      assert.match(out, node === A ? /IP 10\.79\.0\.1 > 10\.79\.0\.2: ICMP echo request/ : /ARP, Request who-has 10\.80\.0\.2 tell 10\.80\.0\.1|ICMP/);
    }
  });

  test('capture errors: unknown interface lists the interfaces; tcpdump missing exits 6 with how to install it', () => {
    const r = run(['capture', LAB, A, 'eth9']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^error: node ${A} of lab ${LAB} has no interface 'eth9'\\n  hint: did you mean 'eth0'\\? its interfaces: [^;]+; or 'any' for all of them\\n$`));
    assert.deepEqual(
      r.stderr
        .match(/its interfaces: ([^;]+);/)![1]!
        .split(', ')
        .sort(),
      ['eth0', 'lo', 'up0'],
    );
    const host = run(['capture', LAB, '@host', 'eth0']);
    assert.equal(host.code, 1);
    assert.match(host.stderr, new RegExp(`lab ${LAB} has no host interface 'eth0'\\n  hint: @host captures only on the lab's own host interfaces: ${BR}, ${PORT}`));
    const empty = join(state.dir, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const missing = run(['capture', LAB, A, 'eth0', '-c', '1'], { env: { PATH: empty } });
    assert.equal(missing.code, 6);
    assert.match(missing.stderr, /^error: tcpdump is not installed.*\n {2}hint: .*apt-get install tcpdump.*dnf install tcpdump/);
    const badCount = run(['capture', LAB, A, 'eth0', '-c', '0']);
    assert.equal(badCount.code, 1);
    assert.match(badCount.stderr, /expected a positive whole number/);
    const badFile = run(['capture', LAB, A, 'eth0', '-c', '1', '-w', join(state.dir, 'no/such/dir/x.pcap')]);
    assert.equal(badFile.code, 1);
    assert.match(badFile.stderr, /cannot write .*x\.pcap: its directory does not exist/);
  });
});

describe('exec after down', () => {
  test('a lab that is down: exec and capture exit 3 and say how to bring it up', () => {
    const r = run(['exec', LAB, A, '--', 'true']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, new RegExp(`^error: lab ${LAB} is not up\\n  hint: run 'netlab up FILE' first`));
    assert.equal(run(['capture', LAB, A, 'eth0']).code, 3);
    assert.equal(run(['shell', LAB, A]).code, 3);
  });
});

describe('graph through the CLI', () => {
  const gstate = stateDir();
  after(() => gstate.cleanup());
  const bridge = join(LABS, 'bridge-4ns.yaml');

  test('mermaid by default, dot with --format dot, to standard output or -o', () => {
    const m = run(['graph', bridge]);
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stdout, /^---\ntitle: "bridge-4ns"\n---\nflowchart LR\n/);
    const out = join(gstate.dir, 'lab.gv');
    const d = run(['graph', bridge, '-o', out]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(readFileSync(out, 'utf8'), /^graph "bridge-4ns" \{/, 'the .gv file name asks for DOT');
  });

  test('an invalid lab file gives the usual problems and exit 2', () => {
    const bad = join(gstate.dir, 'bad.yaml');
    writeFileSync(bad, 'name: bad\nnodes:\n  a:\nlinks:\n  - endpoints: [a:e0, b:e0]\n');
    const r = run(['graph', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml:5:\d+: error: .*no node or bridge named 'b'/);
  });

  test('svg without Graphviz: exit 6, how to install it, and that --format dot works without it', () => {
    const empty = join(gstate.dir, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const r = run(['graph', bridge, '--format', 'svg'], { env: { PATH: empty } });
    assert.equal(r.code, 6);
    assert.match(r.stderr, /^error: --format svg needs Graphviz's 'dot', which is not installed\n {2}hint: .*apt-get install graphviz.*dnf install graphviz.*'--format dot'/);
    assert.equal(run(['graph', bridge, '-o', join(gstate.dir, 'x.png')], { env: { PATH: empty } }).code, 6, '-o x.png asks for png');
    assert.equal(run(['graph', bridge, '--format', 'dot'], { env: { PATH: empty } }).code, 0);
  });

  test("svg pipes the DOT text through dot -Tsvg; dot's failure is reported", () => {
    // A stand-in dot that records its arguments and input, so this runs where Graphviz is missing.
    const bin = join(gstate.dir, 'fake-bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'dot'), `#!/bin/sh\necho "$@" > ${gstate.dir}/dot-args\ncat > ${gstate.dir}/dot-input\n[ "$1" = -Tsvg ] || { echo "bad format" >&2; exit 3; }\necho '<svg>fake</svg>'\n`);
    chmodSync(join(bin, 'dot'), 0o755);
    const pathEnv = { PATH: `${bin}:${process.env.PATH ?? ''}` };
    const out = join(gstate.dir, 'lab.svg');
    const r = run(['graph', bridge, '-o', out], { env: pathEnv });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(out, 'utf8'), '<svg>fake</svg>\n');
    assert.equal(readFileSync(join(gstate.dir, 'dot-args'), 'utf8'), '-Tsvg\n');
    assert.equal(readFileSync(join(gstate.dir, 'dot-input'), 'utf8'), run(['graph', bridge, '-f', 'dot']).stdout);
    const failed = run(['graph', bridge, '-f', 'png', '-o', join(gstate.dir, 'x.png')], { env: pathEnv });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^error: Graphviz's dot failed \(exit 3\) rendering png: bad format/);
  });

  test('svg and png with the real Graphviz, when installed', (t) => {
    if (spawnSync('dot', ['-V']).status !== 0) {
      t.skip('Graphviz is not installed (apt-get install graphviz)');
      return;
    }
    const svg = run(['graph', join(LABS, 'docker-bridge.yaml'), '-f', 'svg']);
    assert.equal(svg.code, 0, svg.stderr);
    assert.match(svg.stdout, /<svg[\s\S]*docker0[\s\S]*<\/svg>/);
    const png = join(gstate.dir, 'lab.png');
    assert.equal(run(['graph', bridge, '-o', png]).code, 0);
    assert.ok(existsSync(png));
    assert.equal(readFileSync(png).subarray(1, 4).toString(), 'PNG');
    const pdf = join(gstate.dir, 'lab.pdf');
    assert.equal(run(['graph', bridge, '-o', pdf]).code, 0);
    assert.equal(readFileSync(pdf).subarray(0, 5).toString(), '%PDF-');
  });

  test('-o with a file name that names no format is refused, and nothing is written', () => {
    const out = join(gstate.dir, 'lab.jpg');
    const r = run(['graph', bridge, '-o', out]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: cannot tell the format from the file name .*lab\.jpg\n {2}hint: name it \.mmd, \.dot, \.svg, \.png or \.pdf, or give --format/);
    assert.equal(existsSync(out), false);
    assert.equal(run(['graph', bridge, '-o', out, '-f', 'dot']).code, 0, 'an explicit --format writes any name');
    assert.match(readFileSync(out, 'utf8'), /^graph /);
  });
});
