// engine/hosts: a lab across hosts. The lab is split per host (src/load/split.ts) and each part is
// applied by netlab itself on its host, in parallel, through a Transport (src/runner/transport.ts):
// the part keeps its own journal, lock and ownership proofs there, so `down` on every host removes
// exactly what `up` made there. netlab reaches other hosts with the ssh client and sends itself
// over the same connection (a tarball of the bundle, kept by content hash under the host's state
// directory, as Ansible sends its modules): a host needs Node.js >= 20.5 and the tools a lab
// needs, not netlab installed. The checks run after every host is up, on the host of their node.
// This machine keeps a record of the hosts (src/state/hosts.ts).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError, EXIT } from '../core/errors.js';
import { sha256 } from '../hash.js';
import { splitLab, type HostPart } from '../load/split.js';
import type { RawLab } from '../load/raw.js';
import type { Lab, LabHost } from '../model/types.js';
import { ROOT } from '../paths.js';
import { type CommandRunner, parallel, type RunResult } from '../runner/runner.js';
import { transportOf, type Transport } from '../runner/transport.js';
import { PART_ENV, removeHostsRecord, writeHostsRecord, type HostsRecord } from '../state/hosts.js';
import { sleep } from '../core/time.js';
import type { TraceSpec } from '../trace/parse.js';
import type { TraceResult } from '../trace/trace.js';
import type { PartSegments } from './trace.js';

/** netlab's own files a host needs (the bundle, the schema, the helpers), and their content hash. */
interface Package {
  hash: string;
  tarball: () => Promise<string>;
}

function ownPackage(runner: CommandRunner): Package {
  const files = ['dist/bundle/netlab.js', 'schemas/lab.schema.json', 'src/helpers/origdst-echo.py'].map((f) => join(ROOT, f));
  // The bundle's chunks are named by their content, so netlab.js changes whenever any of them does.
  const hash = sha256(
    files.filter(existsSync).map((f) => readFileSync(f)),
    16,
  );
  let tar: Promise<string> | undefined;
  return {
    hash,
    tarball: () =>
      (tar ??= runner.runBytes(['tar', '-cz', '-C', ROOT, 'dist/bundle', 'schemas', 'src/helpers'], '').then((r) => {
        if (r.exitCode !== 0) throw new CliError(`cannot pack netlab for the other hosts: tar: ${r.stderr.trim()}`, EXIT.error);
        return r.stdout.toString('base64');
      })),
  };
}

// The remote side, in sh: netlab's state directory there (its NETLAB_STATE_DIR or /run/netlab) keeps
// the package under remote/HASH and each lab's part under remote/labs/LAB.yaml.
const DIR = 'd="${NETLAB_STATE_DIR:-/run/netlab}/remote"';
const HAVE = `${DIR}; test -f "$d/$1/.ok"`;
const INSTALL = `set -e; ${DIR}; mkdir -p "$d"; t=$(mktemp -d "$d/.in.XXXXXX"); base64 -d | tar -xzf - -C "$t"; touch "$t/.ok"; mv -T "$t" "$d/$1" 2>/dev/null || rm -rf "$t"`;
// $1 node, $2 entry (empty: the package's), $3 hash, then netlab's arguments; `--part LAB` first
// stores stdin as the lab's part and runs `up` on it.
const RUN = `set -e; ${DIR}; n=$1; e=$2; h=$3; shift 3; [ -n "$e" ] || e="$d/$h/dist/bundle/netlab.js"
if [ "$1" = --part ]; then mkdir -p "$d/labs"; f="$d/labs/$2.yaml"; cat > "$f.tmp"; mv "$f.tmp" "$f"; shift 2; set -- up "$f" "$@"; fi
${PART_ENV}=1 exec "$n" "$e" "$@"`;

/** One host: how to reach it and run netlab there. */
class HostRunner {
  readonly t: Transport;
  private ready?: Promise<void>;
  constructor(
    readonly host: LabHost,
    private runner: CommandRunner,
    private pkg: Package,
  ) {
    this.t = transportOf(host);
  }

  get local(): boolean {
    return 'local' in this.host.reach;
  }

  fail(what: string, r: RunResult): CliError {
    const out = (r.stderr || r.stdout).trim();
    const hint =
      r.exitCode === 255 && !this.local
        ? `check that '${this.t.via}' works (keys, ~/.ssh/config, host key)`
        : /node: (not found|No such file)/.test(out)
          ? `install Node.js >= 20.5 on host ${this.host.name} (netlab sends itself; it runs with the host's node)`
          : undefined;
    return new CliError(`host ${this.host.name} (${this.t.via}): ${what} failed (exit ${r.exitCode})${out ? `:\n${out}` : ''}`, EXIT.applyFailed, hint);
  }

  /** netlab's package on the host, sent once per version: this reaches the host before anything changes. */
  ensure(): Promise<void> {
    if (this.local) return Promise.resolve();
    this.ready ??= (async () => {
      const have = await this.runner.run(this.t.argv(['sh', '-c', HAVE, 'sh', this.pkg.hash]));
      if (have.exitCode === 0) return;
      if (have.exitCode !== 1) throw this.fail('reaching the host', have);
      const r = await this.runner.run(this.t.argv(['sh', '-c', INSTALL, 'sh', this.pkg.hash]), { input: await this.pkg.tarball() });
      if (r.exitCode !== 0) throw this.fail('sending netlab', r);
    })();
    return this.ready;
  }

  /** Runs netlab there in the foreground (its standard streams are this netlab's); resolves to its exit status. */
  async foreground(args: string[], opts: { tty: boolean; stdin?: 'ignore' }): Promise<number> {
    await this.ensure();
    const [node, entry] = this.local ? [process.execPath, process.argv[1] ?? ''] : ['node', ''];
    return this.runner.foreground(this.t.argv(['sh', '-c', RUN, 'sh', node, entry, this.pkg.hash, ...args], { tty: opts.tty }), opts.stdin ? { stdin: opts.stdin } : {});
  }

  /** Runs netlab there; resolves to its result whatever its exit code. */
  async netlab(args: string[], input?: string): Promise<RunResult> {
    await this.ensure();
    const [node, entry] = this.local ? [process.execPath, process.argv[1] ?? ''] : ['node', ''];
    return this.runner.run(this.t.argv(['sh', '-c', RUN, 'sh', node, entry, this.pkg.hash, ...args]), input !== undefined ? { input } : {});
  }
}

export interface HostsHooks {
  /** One line of progress or result. */
  say(line: string): void;
}

export interface HostCheck {
  host: string;
  label: string;
  met: boolean;
  seen?: string;
  expect?: string;
}

export interface HostsOutcome {
  /** Every host applied its part (or was taken down). */
  ok: boolean;
  /** The checks ran and all were met (true when none ran). */
  met: boolean;
  checks: HostCheck[];
  errors: CliError[];
  parts: HostPart[];
}

function hostRunners(runner: CommandRunner, hosts: LabHost[]): HostRunner[] {
  const pkg = ownPackage(runner);
  return hosts.map((h) => new HostRunner(h, runner, pkg));
}

const json = (r: RunResult): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    return undefined;
  }
};

/** Hosts worked on at once (Ansible's forks): each is an ssh session and a netlab run there. */
const HOST_FORKS = 16;

async function allHosts<T>(hrs: HostRunner[], fn: (h: HostRunner) => Promise<T>): Promise<{ results: (T | undefined)[]; errors: CliError[] }> {
  const errors: CliError[] = [];
  const results = await parallel(hrs, HOST_FORKS, (h) =>
    fn(h).catch((e: unknown) => {
      errors.push(e instanceof CliError ? e : new CliError(`host ${h.host.name}: ${(e as Error).message}`, EXIT.applyFailed));
      return undefined;
    }),
  );
  return { results, errors };
}

/** The checks of every host, run on each host in parallel (after every host is up). */
async function checkHosts(hrs: HostRunner[], lab: string, hooks: HostsHooks): Promise<{ checks: HostCheck[]; errors: CliError[] }> {
  const checks: HostCheck[] = [];
  const { errors } = await allHosts(hrs, async (h) => {
    const r = await h.netlab(['check', lab, '--json']);
    const doc = json(r);
    if (!doc || !Array.isArray(doc.checks)) throw h.fail('netlab check', r);
    for (const c of doc.checks as { label: string; met: boolean; seen?: string; expect?: string }[]) {
      checks.push({ host: h.host.name, label: c.label, met: c.met, ...(c.seen !== undefined ? { seen: c.seen } : {}), ...(c.expect ? { expect: c.expect } : {}) });
      hooks.say(`${c.met ? 'ok  ' : 'FAIL'} ${c.label} (on ${h.host.name}${c.met ? '' : `: expected ${c.expect}, saw ${c.seen}`})`);
    }
  });
  return { checks, errors };
}

/** `netlab up` for a lab across hosts: every host's part, in parallel, then the checks. */
export async function upHosts(runner: CommandRunner, lab: Lab, raw: RawLab, opts: { checks: boolean; dryRun?: boolean }, hooks: HostsHooks): Promise<HostsOutcome> {
  const parts = splitLab(lab, raw);
  const hosts = [...lab.hosts!.values()];
  const hrs = hostRunners(runner, hosts);
  // Every host reached (and given netlab) before any host changes: an unreachable host changes nothing.
  const reach = await allHosts(hrs, (h) => h.ensure());
  if (reach.errors.length) return { ok: false, met: true, checks: [], errors: reach.errors, parts };
  if (!opts.dryRun) writeHostsRecord({ lab: lab.name, file: resolve(lab.file), hosts, nodes: Object.fromEntries([...lab.nodes.values()].map((n) => [n.name, n.host!])) });
  const { errors } = await allHosts(hrs, async (h) => {
    const part = parts.find((p) => p.host === h.host.name)!;
    const r = await h.netlab(['--part', lab.name, '--no-checks', ...(opts.dryRun ? ['--dry-run'] : ['--json'])], part.text);
    if (r.exitCode !== 0) throw h.fail('netlab up', r);
    if (opts.dryRun) {
      hooks.say(`# host ${h.host.name} (${h.t.via}):`);
      for (const line of r.stdout.trimEnd().split('\n')) hooks.say(line);
    } else {
      const doc = json(r);
      const changes = Array.isArray(doc?.changes) ? doc.changes.length : 0;
      const tunnels = part.tunnels.map((t) => `${t.node}:${t.iface} vni ${t.vni} to ${t.remote}`).join(', ');
      hooks.say(`host ${h.host.name} (${h.t.via}): ${changes ? `${changes} change(s) applied` : 'up to date'}${tunnels ? `; vxlan ${tunnels}` : ''}`);
    }
    return r;
  });
  if (errors.length || opts.dryRun || !opts.checks || !lab.checks.length) return { ok: !errors.length, met: true, checks: [], errors, parts };
  const c = await checkHosts(hrs, lab.name, hooks);
  return { ok: !c.errors.length, met: c.checks.every((x) => x.met) && !c.errors.length, checks: c.checks, errors: c.errors, parts };
}

/**
 * The host a node of a lab across hosts is on, from the record (or, for a record written before
 * it kept the nodes, from the lab file); undefined for a node the lab does not have.
 */
export async function hostOfNode(rec: HostsRecord, node: string): Promise<LabHost | undefined> {
  let name = rec.nodes?.[node];
  if (!rec.nodes) {
    const { loadLabFile } = await import('../load/lab.js');
    name = loadLabFile(rec.file, new Map(rec.hosts.map((h) => [h.name, h]))).nodes.get(node)?.host;
  }
  return rec.hosts.find((h) => h.name === name);
}

/**
 * Runs netlab on one host of a lab across hosts with these arguments, in the foreground (exec,
 * shell, capture, impair on a node of that host): its output is this netlab's, its exit status
 * resolves. `tty`: on a terminal there, for an interactive shell; `stdin: 'ignore'` for a verb that
 * reads nothing.
 */
export function onHost(runner: CommandRunner, host: LabHost, args: string[], opts: { tty: boolean; stdin?: 'ignore' }): Promise<number> {
  return hostRunners(runner, [host])[0]!.foreground(args, opts);
}

/** Runs netlab on one host of a lab across hosts, its output captured. */
export function onHostCaptured(runner: CommandRunner, host: LabHost, args: string[]): Promise<RunResult> {
  return hostRunners(runner, [host])[0]!.netlab(args);
}

/** `netlab check` for a lab across hosts. */
export async function checkHostsOf(runner: CommandRunner, rec: HostsRecord, hooks: HostsHooks): Promise<HostsOutcome> {
  const c = await checkHosts(hostRunners(runner, rec.hosts), rec.lab, hooks);
  return { ok: !c.errors.length, met: c.checks.every((x) => x.met) && !c.errors.length, checks: c.checks, errors: c.errors, parts: [] };
}

/** `netlab down` for a lab across hosts: every host's part, in parallel; the record goes once every host is down. */
export async function downHosts(runner: CommandRunner, rec: HostsRecord, opts: { dryRun?: boolean }, hooks: HostsHooks): Promise<HostsOutcome> {
  const hrs = hostRunners(runner, rec.hosts);
  const { errors } = await allHosts(hrs, async (h) => {
    const r = await h.netlab(['down', rec.lab, ...(opts.dryRun ? ['--dry-run'] : [])]);
    if (r.exitCode !== 0) throw h.fail('netlab down', r);
    for (const line of r.stdout.trimEnd().split('\n')) if (line) hooks.say(`host ${h.host.name}: ${line}`);
  });
  if (!errors.length && !opts.dryRun) removeHostsRecord(rec.lab);
  return { ok: !errors.length, met: true, checks: [], errors, parts: [] };
}

/**
 * `netlab trace` of a lab across hosts: netlab on every host arms tracing on its part (tables and
 * monitors), the source's host sends the probe, then each host collects its segments (the source's
 * first: its keys find the connection on the others), and the segments join into one trace with
 * the full lab's links and tunnels. Every host disarms at the end, also after a failure or a stop.
 */
export async function traceHosts(runner: CommandRunner, lab: Lab, opts: { from: string; to: string; proto: TraceSpec['proto']; port?: number; signal?: AbortSignal }): Promise<TraceResult> {
  const { assemble, peers, stoppableTrace, traceSpec, TraceError } = await import('../trace/trace.js');
  const node = lab.nodes.get(opts.from);
  if (!node) throw new TraceError(`no node named '${opts.from}' in lab ${lab.name}`);
  const spec = traceSpec(opts);
  const hrs = hostRunners(runner, [...lab.hosts!.values()]);
  const src = hrs.find((h) => h.host.name === node.host)!;
  const id = randomBytes(6).toString('hex');
  const base = ['trace', lab.name, '--from', opts.from, '--to', spec.to, '--proto', spec.proto, ...(spec.port ? ['--port', String(spec.port)] : [])];
  const run = async (h: HostRunner, what: string, args: string[]) => {
    const r = await h.netlab([...base, ...args]);
    const doc = r.exitCode === 0 ? json(r) : undefined;
    if (!doc) throw h.fail(`netlab trace ${what}`, r);
    return doc;
  };
  const firstError = (errors: CliError[]) => {
    if (errors.length) throw new TraceError(errors.map((e) => e.message).join('\n'), EXIT.applyFailed, errors[0]!.hint);
  };
  // A stop waits for the hosts still arming (a moment: tables, monitors), so that none arms after its disarm.
  let arming: Promise<unknown> | undefined;
  const disarmAll = async () => {
    await arming?.catch(() => {});
    await allHosts(hrs, (h) => run(h, '--disarm', ['--disarm', id]));
  };
  return stoppableTrace(
    opts.signal,
    async () => {
      const armingHosts = allHosts(hrs, (h) => run(h, '--arm', ['--arm', id]));
      arming = armingHosts;
      firstError((await armingHosts).errors);
      const probe = (await run(src, '--probe', ['--probe'])) as unknown as TraceResult['probe'];
      await sleep(300);
      const mine = (await run(src, '--collect', ['--collect', id])) as unknown as PartSegments;
      const seed = Buffer.from(JSON.stringify(mine.seed)).toString('base64url');
      const others = hrs.filter((h) => h !== src);
      const theirs = await allHosts(others, async (h) => ({ host: h.host.name, ...((await run(h, '--collect', ['--collect', id, '--seed', seed])) as unknown as PartSegments) }));
      firstError(theirs.errors);
      const segments = [{ host: src.host.name, ...mine }, ...theirs.results.filter((x) => x !== undefined)].flatMap((p) => p.segments.map((s) => ({ ...s, host: p.host })));
      return assemble(segments, {
        from: opts.from,
        spec,
        probe,
        peerOf: peers(lab),
        ...(mine.seed.firstSrc ? { firstSrc: mine.seed.firstSrc } : {}),
        unseen: `no namespace of the lab saw the packet on any host (the probe: ${probe.output.split('\n')[0] ?? ''})`,
      });
    },
    disarmAll,
  );
}
