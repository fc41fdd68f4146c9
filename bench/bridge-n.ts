// bench/bridge-n: netlab against hand-written `ip` scripts on the lab "bridge-N" (N namespaces,
// one veth each into one host bridge, an address, links up, addrgenmode none).
//
//   npm run bench                        N = 50, 200, 500, 3 repetitions
//   node dist/bench/bridge-n.js 50 200   other sizes
//   BENCH_REPS=5 node dist/bench/bridge-n.js
//   BENCH_KEEP=1 ...                     keep the generated scripts and lab files (path printed)
//
// Not a timed test: it prints wall-clock medians and PASS/MISS against the project's targets, and
// exits 0 whatever the figures are (non-zero only when a build fails or the states differ).
// Needs root. Touches only objects named bn<N>x... that it created; never eth0, routes or iptables.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { markOf } from '../src/model/types.js';
import { columns } from '../src/core/table.js';

const HERE = dirname(fileURLToPath(import.meta.url));
// BENCH_NETLAB: another build's dist/src/cli/main.js, to compare two versions on the same machine.
const CLI = resolve(process.env.BENCH_NETLAB ?? resolve(HERE, '../bundle/netlab.js')); // dist/bench -> dist/bundle/netlab.js
const SIZES = process.argv.slice(2).map(Number);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 300);

// ---------------------------------------------------------------------------------------------
// Processes

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

let current: ChildProcess | undefined;

function run(argv: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', ...opts.env },
    });
    current = child;
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => {
      if (current === child) current = undefined;
      res({ code: code ?? 1, stdout, stderr, ms: performance.now() - t0 });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

async function must(argv: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return r;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * CPU ticks of the whole machine (busy and total, /proc/stat) and of this process with its
 * reaped children (/proc/self/stat utime+stime+cutime+cstime): the difference is other work.
 */
function cpuTicks(): { busy: number; total: number; mine: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const busy = total - cpu[3]! - cpu[4]!;
  const self = readFileSync('/proc/self/stat', 'utf8');
  const f = self
    .slice(self.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  // Fields 14-17 of /proc/PID/stat, counted from after the command name (field 3 is f[0]).
  const mine = f[11]! + f[12]! + f[13]! + f[14]!;
  return { busy, total, mine };
}

async function parallel<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// The lab, read back from the file netlab generates, so that the scripts build the same thing

interface Host {
  ns: string;
  dev: string; // in the namespace
  port: string; // in the host, on the bridge
  cidr: string;
}

interface Lab {
  n: number;
  prefix: string;
  name: string;
  file: string;
  mark: string;
  bridge: string;
  hosts: Host[];
  nsNames: Set<string>;
  hostLinks: Set<string>;
}

async function makeLab(n: number, dir: string): Promise<Lab> {
  const prefix = `bn${n}x`;
  const name = `bench-${prefix}`;
  const file = join(dir, `${name}.yaml`);
  await must([process.execPath, CLI, 'generate', 'single', String(n), '--name', name, '--prefix', prefix, '-o', file]);
  const doc = parse(readFileSync(file, 'utf8')) as {
    name: string;
    ipv6_link_local: boolean;
    nodes: Record<string, unknown>;
    bridges: Record<string, unknown>;
    links: { endpoints: [string, string]; addresses: Record<string, string> }[];
  };
  const bridges = Object.keys(doc.bridges);
  if (doc.name !== name || doc.ipv6_link_local !== false || bridges.length !== 1 || Object.keys(doc.nodes).length !== n || doc.links.length !== n) {
    throw new Error(`${file}: not the bridge-N lab this bench expects`);
  }
  const bridge = bridges[0]!;
  const hosts = doc.links.map((l) => {
    const [ns, dev] = l.endpoints[0].split(':') as [string, string];
    const [br, port] = l.endpoints[1].split(':') as [string, string];
    const cidr = l.addresses[ns];
    if (br !== bridge || !Object.hasOwn(doc.nodes, ns) || !cidr) throw new Error(`${file}: unexpected link ${l.endpoints.join(' ')}`);
    return { ns, dev, port, cidr };
  });
  return {
    n,
    prefix,
    name,
    file,
    mark: markOf(name),
    bridge,
    hosts,
    nsNames: new Set(hosts.map((h) => h.ns)),
    hostLinks: new Set([bridge, ...hosts.map((h) => h.port)]),
  };
}

// ---------------------------------------------------------------------------------------------
// The two hand-written ways, as bash scripts

interface Scripts {
  plainUp: string;
  plainDown: string;
  batchedUp: string;
  batchedDown: string;
}

function writeScripts(lab: Lab, dir: string): Scripts {
  const { bridge: br, mark } = lab;
  // One `ip` process per operation.
  const plainUp = ['#!/bin/bash', 'set -e', `ip link add name ${br} type bridge`, `ip link set dev ${br} alias ${mark}`, `ip link set dev ${br} addrgenmode none`, `ip link set dev ${br} up`];
  for (const h of lab.hosts) {
    plainUp.push(
      `ip netns add ${h.ns}`,
      `ip link add name ${h.port} type veth peer name ${h.dev} netns ${h.ns}`,
      `ip link set dev ${h.port} alias ${mark}`,
      `ip link set dev ${h.port} addrgenmode none`,
      `ip link set dev ${h.port} master ${br}`,
      `ip link set dev ${h.port} up`,
      `ip -n ${h.ns} link set dev lo alias ${mark}`,
      `ip -n ${h.ns} link set dev lo up`,
      `ip -n ${h.ns} link set dev ${h.dev} alias ${mark}`,
      `ip -n ${h.ns} link set dev ${h.dev} addrgenmode none`,
      `ip -n ${h.ns} addr add ${h.cidr} dev ${h.dev}`,
      `ip -n ${h.ns} link set dev ${h.dev} up`,
    );
  }
  const plainDown = ['#!/bin/bash', 'set -e', ...lab.hosts.map((h) => `ip netns del ${h.ns}`), `ip link del dev ${br}`];

  // One root batch (netns add, veths created with their peer in the namespace), then one
  // `ip -n NS -batch` per namespace, two at a time.
  const root = [
    ...lab.hosts.map((h) => `netns add ${h.ns}`),
    `link add name ${br} type bridge`,
    // addrgenmode before up, in its own line: in one `link set` the kernel applies UP first, and a
    // fresh bridge (no ports, operstate UNKNOWN) gets its link-local address at that moment.
    `link set dev ${br} alias ${mark} addrgenmode none`,
    `link set dev ${br} up`,
    ...lab.hosts.map((h) => `link add name ${h.port} type veth peer name ${h.dev} netns ${h.ns}`),
    ...lab.hosts.flatMap((h) => [`link set dev ${h.port} alias ${mark} addrgenmode none master ${br}`, `link set dev ${h.port} up`]),
  ];
  const args: string[] = [];
  for (const h of lab.hosts) {
    const f = join(dir, `${h.ns}.batch`);
    writeFileSync(f, `link set dev lo alias ${mark} up\nlink set dev ${h.dev} alias ${mark} addrgenmode none\naddr add ${h.cidr} dev ${h.dev}\nlink set dev ${h.dev} up\n`);
    args.push(`-n ${h.ns} -batch ${f}`);
  }
  writeFileSync(join(dir, 'ns.args'), `${args.join('\n')}\n`);
  const batchedUp = ['#!/bin/bash', 'set -e', `ip -batch - <<'EOF'`, ...root, 'EOF', `xargs -P2 -n4 ip < ${join(dir, 'ns.args')}`];
  const batchedDown = ['#!/bin/bash', 'set -e', `ip -batch - <<'EOF'`, ...lab.hosts.map((h) => `netns del ${h.ns}`), `link del dev ${br}`, 'EOF'];

  const out = { plainUp, plainDown, batchedUp, batchedDown };
  const paths = {} as Scripts;
  for (const [k, lines] of Object.entries(out)) {
    const p = join(dir, `${k}.sh`);
    writeFileSync(p, `${lines.join('\n')}\n`);
    paths[k as keyof Scripts] = p;
  }
  return paths;
}

// ---------------------------------------------------------------------------------------------
// Kernel state: what of this lab exists, quick checks, and a full fingerprint

async function present(lab: Lab): Promise<{ ns: string[]; links: string[] }> {
  const [nsOut, linkOut] = await Promise.all([must(['ip', '-j', 'netns', 'list']), must(['ip', '-o', 'link', 'show'])]);
  const ns = nsOut.stdout.trim() ? (JSON.parse(nsOut.stdout) as { name: string }[]).map((x) => x.name).filter((x) => lab.nsNames.has(x)) : [];
  const links = linkOut.stdout
    .split('\n')
    .map((l) => /^\d+: ([^:@\s]+)/.exec(l)?.[1])
    .filter((x): x is string => !!x && lab.hostLinks.has(x));
  return { ns, links };
}

/** Polls until none of the lab's namespaces and host links exist; returns the ms it took. */
async function waitGone(lab: Lab, timeoutMs = 30000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const p = await present(lab);
    if (p.ns.length === 0 && p.links.length === 0) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`${lab.prefix}: still present ${timeoutMs} ms after teardown: ${[...p.ns, ...p.links].slice(0, 10).join(' ')} ...`);
    await sleep(5);
  }
}

interface IpLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu?: number;
  master?: string;
  ifalias?: string;
  link_index?: number;
  link_netnsid?: number;
  link_type?: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** Quick check after a build: every namespace and host link exists, ports are up on the bridge. */
async function verifyQuick(lab: Lab): Promise<void> {
  const p = await present(lab);
  if (p.ns.length !== lab.n || p.links.length !== lab.n + 1) throw new Error(`${lab.prefix}: after up: ${p.ns.length}/${lab.n} namespaces, ${p.links.length}/${lab.n + 1} host links`);
  const links = JSON.parse((await must(['ip', '-j', 'link', 'show', 'master', lab.bridge])).stdout) as IpLink[];
  const up = links.filter((l) => l.flags?.includes('UP')).length;
  if (up !== lab.n) throw new Error(`${lab.prefix}: after up: ${up}/${lab.n} ports up on ${lab.bridge}`);
  const last = lab.hosts[lab.hosts.length - 1]!;
  const inner = JSON.parse((await must(['ip', '-n', last.ns, '-j', 'addr', 'show', 'dev', last.dev])).stdout) as IpLink[];
  if (!inner[0]?.flags?.includes('UP') || !inner[0].addr_info?.some((a) => `${a.local}/${a.prefixlen}` === last.cidr))
    throw new Error(`${lab.prefix}: ${last.ns}:${last.dev} is not up with ${last.cidr}`);
}

function addrGenModes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+: ([^:@\s]+)/.exec(line);
    if (m) out.set(m[1]!, /addrgenmode (\S+)/.exec(line)?.[1] ?? '?');
  }
  return out;
}

const isLinkLocal = (a: string) => /^fe[89ab][0-9a-f]:/i.test(a);

function linkLocals(links: IpLink[], keep: (n: string) => boolean, where: string): string[] {
  return links.filter((l) => keep(l.ifname) && l.addr_info?.some((a) => isLinkLocal(a.local))).map((l) => `${where}${l.ifname}`);
}

function describeLinks(links: IpLink[], modes: Map<string, string>, keep: (n: string) => boolean) {
  return links
    .filter((l) => keep(l.ifname))
    .map((l) => ({
      name: l.ifname,
      kind: l.linkinfo?.info_kind ?? l.link_type ?? '?',
      up: !!l.flags?.includes('UP'),
      master: l.master ?? null,
      alias: l.ifalias ?? null,
      mtu: l.mtu ?? null,
      addrgenmode: modes.get(l.ifname) ?? '?',
      // IPv6 link-local addresses carry the random MAC: compared apart (see linkLocal).
      addresses: (l.addr_info ?? [])
        .filter((a) => !isLinkLocal(a.local))
        .map((a) => `${a.local}/${a.prefixlen}`)
        .sort(),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Everything the lab's state consists of, with kernel-assigned details (ifindex, MAC, netns id)
 * replaced by whether each veth pair joins the right port to the right namespace. Untimed.
 */
async function fingerprint(lab: Lab): Promise<{ text: string; linkLocal: string[] }> {
  const [hostJ, hostT, nsl] = await Promise.all([must(['ip', '-j', '-d', 'addr', 'show']), must(['ip', '-d', '-o', 'link', 'show']), must(['ip', '-j', 'netns', 'list'])]);
  const hostLinks = JSON.parse(hostJ.stdout) as IpLink[];
  const nsid = new Map((JSON.parse(nsl.stdout) as { name: string; id?: number }[]).map((x) => [x.name, x.id]));
  const byName = new Map(hostLinks.map((l) => [l.ifname, l]));
  const host = describeLinks(hostLinks, addrGenModes(hostT.stdout), (n) => lab.hostLinks.has(n));
  const linkLocal = linkLocals(hostLinks, (n) => lab.hostLinks.has(n), '');
  const inside = await parallel(lab.hosts, 2, async (h) => {
    const [j, t] = await Promise.all([must(['ip', '-n', h.ns, '-j', '-d', 'addr', 'show']), must(['ip', '-n', h.ns, '-d', '-o', 'link', 'show'])]);
    const links = JSON.parse(j.stdout) as IpLink[];
    const dev = links.find((l) => l.ifname === h.dev);
    const port = byName.get(h.port);
    const paired = !!dev && !!port && dev.link_index === port.ifindex && port.link_index === dev.ifindex && port.link_netnsid === nsid.get(h.ns);
    linkLocal.push(...linkLocals(links, () => true, `${h.ns}:`));
    return { ns: h.ns, paired, links: describeLinks(links, addrGenModes(t.stdout), () => true) };
  });
  return { text: JSON.stringify({ host, inside }, null, 1), linkLocal };
}

function firstDifference(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) return `line ${i + 1}: ${x[i]?.trim()}  vs  ${y[i]?.trim()}`;
  return 'none';
}

// ---------------------------------------------------------------------------------------------
// Cleanup: only this bench's objects, by exact name

const live = new Set<Lab>();
/** Findings about the state netlab built, printed with the results. */
const notes = new Set<string>();

function cleanupSync(lab: Lab): void {
  const ns = spawnSync('ip', ['-j', 'netns', 'list'], { encoding: 'utf8' }).stdout.trim();
  const nsNames = ns ? (JSON.parse(ns) as { name: string }[]).map((x) => x.name).filter((x) => lab.nsNames.has(x)) : [];
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => /^\d+: ([^:@\s]+)/.exec(l)?.[1])
    .filter((x): x is string => !!x && lab.hostLinks.has(x));
  const ports = links.filter((l) => l !== lab.bridge);
  const lines = [...nsNames.map((n) => `netns del ${n}`), ...ports.map((p) => `link del dev ${p}`), ...(links.includes(lab.bridge) ? [`link del dev ${lab.bridge}`] : [])];
  if (lines.length) {
    process.stderr.write(`cleanup: removing ${nsNames.length} namespace(s) and ${links.length} host link(s) of ${lab.prefix}\n`);
    spawnSync('ip', ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
  }
}

let stateDir = '';
let workDir = '';

function cleanupAll(): void {
  for (const lab of live) cleanupSync(lab);
  live.clear();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  if (workDir && process.env.BENCH_KEEP) process.stderr.write(`scripts and lab files kept in ${workDir}\n`);
  else if (workDir) rmSync(workDir, { recursive: true, force: true });
}

function interrupted(): void {
  process.stderr.write('\ninterrupted: stopping the running command and cleaning up\n');
  current?.kill('SIGTERM');
  // Give a netlab in mid-apply a moment to exit before removing what it made.
  spawnSync('sleep', ['0.3']);
  cleanupAll();
  process.exit(130);
}
process.on('SIGINT', interrupted);
process.on('SIGTERM', interrupted);

// ---------------------------------------------------------------------------------------------
// Measuring

interface Rep {
  netlabUp: number;
  netlabUpInProc: number;
  netlabNoop: number;
  netlabNoopInProc: number;
  netlabDown: number;
  netlabDownInProc: number;
  netlabGoneAfter: number;
  plainUp: number;
  plainDown: number;
  plainGone: number;
  batchedUp: number;
  batchedDown: number;
  batchedGone: number;
}

/** The duration netlab prints at the end of its last line: "... (123 ms)" or "... · 123 ms". */
const inProc = (out: string) => Number(/(\d+) ms\)?\s*$/.exec(out.trim())?.[1] ?? NaN);

async function netlab(args: string[]): Promise<Ran> {
  return must([process.execPath, CLI, ...args], { env: { NETLAB_STATE_DIR: stateDir } });
}

async function benchOnce(lab: Lab, scripts: Scripts, full: boolean): Promise<Rep> {
  const r = {} as Rep;
  let reference = '';
  const check = async (who: string) => {
    await verifyQuick(lab);
    if (!full) return;
    const { text: fp, linkLocal } = await fingerprint(lab);
    if (linkLocal.length) {
      // The lab says ipv6_link_local: false: no interface of it should have one.
      if (who !== 'netlab up') throw new Error(`${lab.prefix}: ${who} left IPv6 link-local addresses on ${linkLocal.join(' ')}`);
      notes.add(
        `N=${lab.n}: after netlab up, IPv6 link-local address(es) on ${linkLocal.length > 5 ? `${linkLocal.length} interfaces, e.g. ${linkLocal.slice(0, 5).join(' ')}` : linkLocal.join(' ')} although the lab says ipv6_link_local: false (addrgenmode none)`,
      );
    }
    if (!reference) {
      reference = fp;
      const parsed = JSON.parse(fp) as { host: { addrgenmode: string }[]; inside: { paired: boolean; links: { name: string; up: boolean; addrgenmode: string }[] }[] };
      const bad =
        parsed.inside.filter((x) => !x.paired || x.links.some((l) => !l.up || (l.name !== 'lo' && l.addrgenmode !== 'none'))).length + parsed.host.filter((l) => l.addrgenmode !== 'none').length;
      if (bad) throw new Error(`${lab.prefix}: ${who} built a state with ${bad} wrong object(s)`);
    } else if (fp !== reference) {
      throw new Error(`${lab.prefix}: the state ${who} built differs from netlab's: first difference ${firstDifference(reference, fp)}`);
    }
  };
  const settle = () => sleep(SETTLE_MS);

  // netlab: up, up again (no-op), down (which itself waits until the kernel is done).
  live.add(lab);
  let o = await netlab(['up', '--no-checks', lab.file]); // the scripts run no checks either
  r.netlabUp = o.ms;
  r.netlabUpInProc = inProc(o.stdout);
  if (/nothing to do/.test(o.stdout)) throw new Error(`${lab.prefix}: first netlab up did nothing:\n${o.stdout}`);
  await check('netlab up');
  o = await netlab(['up', '--no-checks', lab.file]);
  r.netlabNoop = o.ms;
  r.netlabNoopInProc = inProc(o.stdout);
  if (!/nothing to do/.test(o.stdout)) throw new Error(`${lab.prefix}: second netlab up was not a no-op:\n${o.stdout}`);
  await settle();
  o = await netlab(['down', lab.name]);
  r.netlabDown = o.ms;
  r.netlabDownInProc = inProc(o.stdout);
  r.netlabGoneAfter = await waitGone(lab);
  await settle();

  // Hand-batched.
  o = await must(['bash', scripts.batchedUp]);
  r.batchedUp = o.ms;
  await check('the batched script');
  await settle();
  o = await must(['bash', scripts.batchedDown]);
  r.batchedDown = o.ms;
  r.batchedGone = o.ms + (await waitGone(lab));
  await settle();

  // One `ip` per operation.
  o = await must(['bash', scripts.plainUp]);
  r.plainUp = o.ms;
  await check('the plain script');
  await settle();
  o = await must(['bash', scripts.plainDown]);
  r.plainDown = o.ms;
  r.plainGone = o.ms + (await waitGone(lab));
  live.delete(lab);
  await settle();
  return r;
}

function median(xs: number[]): number {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// ---------------------------------------------------------------------------------------------
// Report

const sec = (ms: number) => (Number.isNaN(ms) ? '-' : (ms / 1000).toFixed(3));
/** Numbers right-aligned under a rule, the first column (the row's name) left. */
function table(head: string[], rows: string[][]): string {
  return columns([head, ...rows], { align: head.map((_, i) => (i === 0 ? 'left' : 'right')), rule: true }).join('\n');
}

function verdict(ok: boolean): string {
  return ok ? 'PASS' : 'MISS';
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (it creates network namespaces)\n');
    return 1;
  }
  const sizes = SIZES.length ? SIZES : [50, 200, 500];
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 9999) || !Number.isInteger(REPS) || REPS < 1) {
    process.stderr.write('usage: node dist/bench/bridge-n.js [N ...]   (1 <= N <= 9999; BENCH_REPS >= 1)\n');
    return 1;
  }
  const ipv = spawnSync('ip', ['-V'], { encoding: 'utf8' }).stdout.trim();
  const nproc = spawnSync('nproc', [], { encoding: 'utf8' }).stdout.trim() || String(availableParallelism());
  console.log('netlab bench bridge-N: NOT a timed test. Wall-clock medians on this machine, for information;');
  console.log('PASS/MISS compares them with the project targets and never fails the run.');
  console.log(`machine: nproc ${nproc}, kernel ${release()}, ${ipv}, node ${process.version}; ${REPS} repetition(s); sizes ${sizes.join(', ')}`);
  const git = spawnSync('git', ['-C', dirname(CLI), 'describe', '--always', '--dirty'], { encoding: 'utf8' });
  console.log(`netlab: ${CLI}${git.status === 0 ? ` (git ${git.stdout.trim()})` : ' (not in a git checkout)'}`);
  console.log(
    `load average before the run: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} (other work on the machine makes every figure noisier)`,
  );
  const others = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).length;
  if (others) console.log(`note: ${others} other namespace(s) exist on this host (other labs); they are left alone`);

  stateDir = mkdtempSync(join(tmpdir(), 'netlab-bench-state-'));
  workDir = mkdtempSync(join(tmpdir(), 'netlab-bench-'));
  const results: { n: number; m: Record<keyof Rep, number> }[] = [];
  const loads: number[] = [];
  try {
    for (const n of sizes) {
      const dir = mkdtempSync(join(workDir, `n${n}-`));
      const lab = await makeLab(n, dir);
      const p = await present(lab);
      if (p.ns.length || p.links.length) {
        throw new Error(
          `${lab.prefix}: ${p.ns.length} namespace(s) and ${p.links.length} host link(s) named ${lab.prefix}... already exist (an earlier run?); not touching them.\n  remove them with: ip netns del ${lab.prefix}h<i> ... ; ip link del ${lab.bridge}`,
        );
      }
      const scripts = writeScripts(lab, dir);
      const reps: Rep[] = [];
      for (let i = 0; i < REPS; i++) {
        const c0 = cpuTicks();
        const rep = await benchOnce(lab, scripts, i === 0);
        const c1 = cpuTicks();
        const load = (c1.busy - c0.busy - (c1.mine - c0.mine)) / Math.max(1, c1.total - c0.total);
        loads.push(load);
        reps.push(rep);
        process.stderr.write(
          `N=${n} rep ${i + 1}/${REPS}: netlab up ${sec(rep.netlabUp)} noop ${sec(rep.netlabNoop)} down ${sec(rep.netlabDown)} | batched up ${sec(rep.batchedUp)} down ${sec(rep.batchedDown)}/${sec(rep.batchedGone)} | plain up ${sec(rep.plainUp)} down ${sec(rep.plainDown)}/${sec(rep.plainGone)}${i === 0 ? ' | states identical' : ''} | others used ${(100 * load).toFixed(0)}% of the CPU\n`,
        );
      }
      const m = {} as Record<keyof Rep, number>;
      for (const k of Object.keys(reps[0]!) as (keyof Rep)[]) m[k] = median(reps.map((r) => r[k]));
      results.push({ n, m });
    }
  } finally {
    cleanupAll();
  }

  const busy = Math.max(...loads);
  console.log(
    `\nCPU used by other processes (and kernel workers) during the repetitions: ${(100 * Math.min(...loads)).toFixed(0)}% to ${(100 * busy).toFixed(0)}% of the machine${busy > 0.15 ? ' -- other work was running: treat the figures with care, and rerun on a quiet machine' : ''}`,
  );
  console.log('\nMedian wall-clock seconds (netlab figures include starting node; "in-proc" is what netlab itself reports):');
  console.log(
    table(
      ['N', 'netlab up', '(in-proc)', 'noop up', '(in-proc)', 'netlab down', '(in-proc)', 'plain up', 'plain down', '(gone)', 'batched up', 'batched down', '(gone)'],
      results.map(({ n, m }) => [
        String(n),
        sec(m.netlabUp),
        sec(m.netlabUpInProc),
        sec(m.netlabNoop),
        sec(m.netlabNoopInProc),
        sec(m.netlabDown),
        sec(m.netlabDownInProc),
        sec(m.plainUp),
        sec(m.plainDown),
        sec(m.plainGone),
        sec(m.batchedUp),
        sec(m.batchedDown),
        sec(m.batchedGone),
      ]),
    ),
  );

  console.log('\nRatios and targets:');
  const rows = results.map(({ n, m }) => {
    const plainVsUp = m.plainUp / m.netlabUp;
    const upVsBatched = m.netlabUp / m.batchedUp;
    const noopVsUp = m.netlabNoop / m.netlabUp;
    const downVsBatched = m.netlabDown / m.batchedGone;
    const downVsCmd = m.netlabDown / m.batchedDown;
    const x = (v: number) => `${v.toFixed(2)}x`;
    return [
      String(n),
      `${x(plainVsUp)} ${n === 200 ? verdict(plainVsUp >= 4) : `(${verdict(plainVsUp >= 4)})`}`,
      `${x(upVsBatched)} ${verdict(upVsBatched <= 1.5)}`,
      // A plain up reads every namespace now: its target is against the read floor (bench/read-floor.ts).
      noopVsUp.toFixed(2),
      `${x(downVsBatched)} ${verdict(downVsBatched <= 1.5)}`,
      `${x(downVsCmd)} ${verdict(downVsCmd <= 1.5)}`,
    ];
  });
  console.log(table(['N', 'plain/up (>=4x @200)', 'up/batched (<=1.5x)', 'noop/up (see read-floor)', 'down/batched (<=1.5x)', 'down/batched-cmd (<=1.5x)'], rows));
  console.log('  down/batched: batched teardown timed until its namespaces and host links are gone, as netlab down waits for that too;');
  console.log('  down/batched-cmd: against the batch command alone (the kernel still finishing in the background).');

  console.log('\nScaling of up (ms per namespace; marginal = extra ms per extra namespace from the previous N):');
  const per = (k: keyof Rep) =>
    results.map(({ n, m }, i) => {
      const prev = results[i - 1];
      const marginal = prev ? (m[k] - prev.m[k]) / (n - prev.n) : NaN;
      return `${(m[k] / n).toFixed(2)}${prev ? ` (${marginal.toFixed(2)})` : ''}`;
    });
  const labels: [keyof Rep, string][] = [
    ['netlabUp', 'netlab up'],
    ['netlabNoop', 'netlab noop up'],
    ['batchedUp', 'batched up'],
    ['plainUp', 'plain up'],
  ];
  const scaleRows = labels.map(([k, label]) => [label, ...per(k)]);
  console.log(table(['', ...results.map((r) => `N=${r.n}`)], scaleRows));
  // Linear = a fixed start-up cost plus a constant cost per namespace. With three sizes or more:
  // the marginal cost per namespace of the last step is at most 1.5x that of the first step.
  // With two: the cost per namespace does not grow (at most 1.2x) from the smaller to the larger N.
  const sorted = [...results].sort((a, b) => a.n - b.n);
  if (sorted.length >= 3) {
    const step = (k: keyof Rep, i: number) => (sorted[i]!.m[k] - sorted[i - 1]!.m[k]) / (sorted[i]!.n - sorted[i - 1]!.n);
    const last = sorted.length - 1;
    const a = step('netlabUp', 1);
    const b = step('netlabUp', last);
    const ba = step('batchedUp', 1);
    const bb = step('batchedUp', last);
    console.log(
      `netlab up scales linearly: ${verdict(b <= 1.5 * a)} (marginal ${a.toFixed(2)} ms/namespace from N=${sorted[0]!.n} to ${sorted[1]!.n}, ${b.toFixed(2)} from N=${sorted[last - 1]!.n} to ${sorted[last]!.n}, ${(b / a).toFixed(2)}x; PASS if <= 1.5x)`,
    );
    // The kernel and `ip -n` (each copies the mount namespace, which holds one mount per
    // namespace under /run/netns) make every namespace dearer as N grows, for any tool.
    console.log(
      `  for reference, the batched script: ${ba.toFixed(2)} -> ${bb.toFixed(2)} ms/namespace, ${(bb / ba).toFixed(2)}x; netlab's growth relative to it: ${(b / a / (bb / ba)).toFixed(2)}x ${verdict(b / a <= 1.25 * (bb / ba))} (PASS if <= 1.25x)`,
    );
  } else if (sorted.length === 2) {
    const a = sorted[0]!.m.netlabUp / sorted[0]!.n;
    const b = sorted[1]!.m.netlabUp / sorted[1]!.n;
    console.log(
      `netlab up scales linearly: ${verdict(b <= 1.2 * a)} (${a.toFixed(2)} ms/namespace at N=${sorted[0]!.n}, ${b.toFixed(2)} at N=${sorted[1]!.n}; PASS if it does not grow by more than 1.2x)`,
    );
  }
  if (notes.size) {
    console.log('\nState notes (the scripts built the same state without these):');
    for (const n of notes) console.log(`  ${n}`);
  }
  return 0;
}

try {
  process.exitCode = await main();
} catch (e) {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  cleanupAll();
  process.exitCode = 1;
}
