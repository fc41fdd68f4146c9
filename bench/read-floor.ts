// bench/read-floor: what a no-op `netlab up` costs against the floor of reading the same N
// namespaces from a shell, now that a plain `up` reads every lab namespace.
//
//   npm run build && node dist/bench/read-floor.js           N = 200, 1000; 5 rounds
//   node dist/bench/read-floor.js 50 200                     other sizes
//   BENCH_REPS=9 node dist/bench/read-floor.js
//
// Per N: builds bridge-N (`netlab generate single N`) with netlab, then runs rounds, each timing
// in turn (interleaved, so that a busy moment of the machine hits every contender alike):
//   noop up        `netlab up --no-checks FILE`: reads the host and all N namespaces, plans, nothing to do
//   trusting up    `netlab up --no-checks --trust-verified FILE`: reads the host only
//   floor (sh)     per namespace `nsenter --net=/run/netns/NS sh -c 'ip -j -d -batch FILE; iptables-save'`,
//                  two namespaces at a time (xargs -P2): the floor the issue sets
//   floor (2 exec) per namespace `nsenter ... ip -j -d -batch FILE` and `nsenter ... iptables-save`,
//                  from two long-lived shells that each read half of the namespaces: no shell per
//                  namespace (one fork fewer per namespace), as netlab reads them
//   node           `node -e 0`: starting node, which every netlab command pays
// and reports medians, and noop / the lower floor against the target 1.3x.
// Not a timed test: exits 0 whatever the figures. Needs root; touches only what it made
// (namespaces and links named rf<N>x...), and removes them with `netlab down`.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { columns } from '../src/core/table.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLI = resolve(process.env.BENCH_NETLAB ?? resolve(HERE, '../bundle/netlab.js'));
const SIZES = process.argv.slice(2).map(Number);
const REPS = Number(process.env.BENCH_REPS ?? 5);
const TARGET = 1.3;

function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; ms: number }> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', ...env } });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', rej);
    child.on('close', (code) => res({ code: code ?? 1, out, ms: performance.now() - t0 }));
  });
}

async function must(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const r = await run(argv, env);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (exit ${r.code}):\n${r.out}`);
  return r;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sec = (ms: number) => (ms / 1000).toFixed(3);
/** The plan's own time in netlab's plain output: "✔ plan: ... (123 ms)". */
const planMs = (out: string) => Number(/✔ plan: .*\((\d+) ms\)/.exec(out)?.[1] ?? NaN);
/** netlab's whole in-process time, at the end of its last line: "... · 123 ms". */
const inProc = (out: string) => Number(/(\d+) ms\s*$/.exec(out.trim())?.[1] ?? NaN);

/** The two floor scripts for the namespaces listed in `list`. */
function floorScripts(dir: string, names: string[]): { sh: string; exec2: string } {
  const list = join(dir, 'ns.list');
  const batch = join(dir, 'read.batch');
  writeFileSync(list, `${names.join('\n')}\n`);
  writeFileSync(batch, 'addr show\nroute show table all\nrule show\n');
  const sh = join(dir, 'floor-sh.sh');
  writeFileSync(sh, `#!/bin/bash\nset -e\nxargs -P2 -I{} nsenter --net=/run/netns/{} sh -c 'ip -j -d -batch ${batch}; iptables-save' < ${list} > /dev/null\n`);
  // Two shells, each reading half of the namespaces one after the other: no shell per namespace.
  const exec2 = join(dir, 'floor-2exec.sh');
  const half = (part: string[]) => part.map((n) => `nsenter --net=/run/netns/${n} ip -j -d -batch ${batch}\nnsenter --net=/run/netns/${n} iptables-save\n`).join('');
  const h = Math.ceil(names.length / 2);
  writeFileSync(join(dir, 'half0.sh'), half(names.slice(0, h)));
  writeFileSync(join(dir, 'half1.sh'), half(names.slice(h)));
  writeFileSync(exec2, `#!/bin/bash\nsh -s < ${join(dir, 'half0.sh')} > /dev/null &\nsh -s < ${join(dir, 'half1.sh')} > /dev/null &\nwait\n`);
  return { sh, exec2 };
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (it creates network namespaces)\n');
    return 1;
  }
  const sizes = SIZES.length ? SIZES : [200, 1000];
  console.log('netlab bench read-floor: NOT a timed test. Medians of interleaved rounds, seconds, on this machine.');
  console.log(
    `machine: nproc ${spawnSync('nproc', [], { encoding: 'utf8' }).stdout.trim()}, kernel ${release()}, ${spawnSync('ip', ['-V'], { encoding: 'utf8' }).stdout.trim()}, ${spawnSync('iptables', ['--version'], { encoding: 'utf8' }).stdout.trim()}, node ${process.version}; ${REPS} round(s)`,
  );
  console.log(
    `netlab: ${CLI}; load average before the run: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const state = mkdtempSync(join(tmpdir(), 'netlab-rf-state-'));
  const env = { NETLAB_STATE_DIR: state };
  const rows: string[][] = [];
  const live: string[] = [];
  try {
    for (const n of sizes) {
      const dir = mkdtempSync(join(tmpdir(), `netlab-rf-${n}-`));
      const prefix = `rf${n}x`;
      const name = `bench-${prefix}`;
      const file = join(dir, `${name}.yaml`);
      await must([process.execPath, CLI, 'generate', 'single', String(n), '--name', name, '--prefix', prefix, '-o', file]);
      live.push(name);
      const first = await must([process.execPath, CLI, 'up', '--no-checks', file], env);
      const names = JSON.parse((await must([process.execPath, CLI, 'status', name, '--json'], env)).out).labs[0].nodes as string[];
      if (names.length !== n) throw new Error(`${name}: ${names.length} namespaces after up, not ${n}`);
      const floor = floorScripts(dir, names);
      const t: Record<string, number[]> = { noop: [], noopPlan: [], noopIn: [], trusting: [], floorSh: [], floor2: [], node: [] };
      for (let i = 0; i < REPS; i++) {
        const noop = await must([process.execPath, CLI, 'up', '--no-checks', file], { ...env, CI: 'true' });
        if (!/nothing to do/.test(noop.out)) throw new Error(`${name}: the no-op up changed something:\n${noop.out}`);
        t.noop!.push(noop.ms);
        t.noopPlan!.push(planMs(noop.out));
        t.noopIn!.push(inProc(noop.out));
        t.floorSh!.push((await must(['bash', floor.sh])).ms);
        t.trusting!.push((await must([process.execPath, CLI, 'up', '--no-checks', '--trust-verified', file], { ...env, CI: 'true' })).ms);
        t.floor2!.push((await must(['bash', floor.exec2])).ms);
        t.node!.push((await must([process.execPath, '-e', '0'])).ms);
        process.stderr.write(
          `N=${n} round ${i + 1}/${REPS}: noop ${sec(t.noop!.at(-1)!)} (plan ${t.noopPlan!.at(-1)} ms) | floor sh ${sec(t.floorSh!.at(-1)!)} | floor 2exec ${sec(t.floor2!.at(-1)!)} | trusting ${sec(t.trusting!.at(-1)!)} | node ${sec(t.node!.at(-1)!)}\n`,
        );
      }
      await must([process.execPath, CLI, 'down', name], env);
      live.pop();
      rmSync(dir, { recursive: true, force: true });
      const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])) as Record<string, number>;
      const lower = Math.min(m.floorSh!, m.floor2!);
      rows.push([
        String(n),
        sec(first.ms),
        sec(m.noop!),
        sec(m.noopPlan!),
        sec(m.noopIn!),
        sec(m.trusting!),
        sec(m.floorSh!),
        sec(m.floor2!),
        sec(m.node!),
        `${(m.noop! / m.floorSh!).toFixed(2)}x ${m.noop! <= TARGET * m.floorSh! ? 'PASS' : 'MISS'}`,
        `${(m.noop! / lower).toFixed(2)}x`,
      ]);
    }
  } finally {
    for (const name of live) spawnSync(process.execPath, [CLI, 'down', name], { env: { ...process.env, ...env }, stdio: 'ignore' });
    rmSync(state, { recursive: true, force: true });
  }
  const head = ['N', 'first up', 'noop up', '(plan)', '(in-proc)', 'trusting up', 'floor sh', 'floor 2exec', 'node -e 0', `noop/floor sh (<=${TARGET}x)`, 'noop/lower floor'];
  console.log(`\n${columns([head, ...rows], { align: head.map((_, i) => (i === 0 ? 'left' : 'right')), rule: true }).join('\n')}`);
  console.log('  (plan): the plan step as netlab reports it (host + namespace reads, parse, diff); (in-proc): netlab from its start to its last line.');
  return 0;
}

try {
  process.exitCode = await main();
} catch (e) {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
