// bench/classroom: a trainer's classroom, N instances of labs/bridge-4ns.yaml (one per student),
// brought up one after the other and then all at once, with the article's names in every one.
//
//   node dist/bench/classroom.js            N = 30
//   node dist/bench/classroom.js 5          another N
//
// Not a timed test: it prints wall-clock figures and the ratio sequential / parallel, and exits 0
// whatever they are. It exits non-zero when an up fails or misses a check, when something is left
// after down, or when the real root namespace (links, addresses, routes, rules, iptables, nft,
// every net sysctl, /run/netns) differs from before at any step. Needs root; its state directory is
// a temporary one, its instances are named after the run (cls<pid>-s1..N, cls<pid>-p1..N).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compare, hostExec, hostNetnsDir, snapshot } from '../test/lib/snapshot.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLI = resolve(HERE, '../bundle/netlab.js'); // dist/bench -> dist/bundle/netlab.js
const LAB = resolve(HERE, '../../labs/bridge-4ns.yaml');
const N = Number(process.argv[2] ?? 30);
const STATE = mkdtempSync(join(tmpdir(), 'netlab-classroom-'));
const env = { ...process.env, NETLAB_STATE_DIR: STATE };
const tag = `cls${process.pid % 10000}`;

interface Ran {
  code: number;
  out: string;
  ms: number;
}

function netlab(args: string[]): Promise<Ran> {
  const t0 = performance.now();
  return new Promise((done) => {
    const c = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.once('close', (code) => done({ code: code ?? -1, out, ms: performance.now() - t0 }));
  });
}

const root = () => snapshot(hostExec, hostNetnsDir(), { everySysctl: true });
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Left after down: instance directories, mounts under the state directory. */
function residue(): string[] {
  let dirs: string[] = [];
  try {
    dirs = readdirSync(join(STATE, 'instances'));
  } catch {
    // never made, or gone
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(STATE));
  return [...dirs, ...mounts];
}

let failed = 0;
function expect(ok: boolean, what: string): void {
  if (ok) return;
  failed++;
  console.log(`FAIL: ${what}`);
}

async function round(kind: 'sequential' | 'parallel', before: ReturnType<typeof root>): Promise<{ up: number; down: number }> {
  const names = Array.from({ length: N }, (_, i) => `${tag}-${kind[0]}${i + 1}`);
  const t0 = performance.now();
  let ups: Ran[];
  if (kind === 'sequential') {
    ups = [];
    for (const n of names) ups.push(await netlab(['up', LAB, '--instance', n]));
  } else ups = await Promise.all(names.map((n) => netlab(['up', LAB, '--instance', n])));
  const up = performance.now() - t0;
  ups.forEach((r, i) => expect(r.code === 0, `${kind} up of bridge-4ns@${names[i]}: exit ${r.code} (0: up, every check met)\n${r.out.slice(-2000)}`));
  const during = compare(before, root());
  expect(!during.length, `the root namespace changed while ${N} instances are up:\n${during.join('\n')}`);
  // One student's ping, the article's command as written, in the last instance.
  const ping = await netlab(['exec', `bridge-4ns@${names.at(-1)}`, 'ns1', '--', 'ping', '-c1', '-W1', '192.168.20.4']);
  expect(ping.code === 0, `ping in bridge-4ns@${names.at(-1)}: ${ping.out}`);
  const t1 = performance.now();
  const down = await netlab(['down', '--all']);
  expect(down.code === 0, `down --all: ${down.out.slice(-2000)}`);
  const left = residue();
  expect(!left.length, `left after down --all: ${left.join(' ')}`);
  return { up, down: performance.now() - t1 };
}

console.log(`# classroom: ${N} instances of labs/bridge-4ns.yaml, kernel ${release()}, ${availableParallelism()} CPU(s), load ${loadavg()[0]!.toFixed(2)}`);
const before = root();
try {
  const seq = await round('sequential', before);
  console.log(`sequential: ${N} ups in ${s(seq.up)} (${(seq.up / N / 1000).toFixed(2)} s each); down --all in ${s(seq.down)}`);
  const par = await round('parallel', before);
  console.log(`parallel:   ${N} ups in ${s(par.up)} (${(par.up / N / 1000).toFixed(2)} s per instance); down --all in ${s(par.down)}`);
  console.log(`ratio sequential / parallel (up): ${(seq.up / par.up).toFixed(2)}x`);
  const after = compare(before, root());
  expect(!after.length, `the root namespace differs after the run:\n${after.join('\n')}`);
  console.log(failed ? `# ${failed} failure(s)` : '# every up met its checks; the root namespace was identical during and after');
} finally {
  if (residue().length) await netlab(['down', '--all']);
  rmSync(STATE, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
