// netlab trace: turns on netfilter tracing for matching packets in every namespace of a lab,
// sends one probe, and reports the chains the kernel really walked, namespace by namespace.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { CliError, EXIT, Exit } from '../core/errors.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST, type Lab } from '../model/types.js';

/** How hops in the host's own namespace are labelled (a node may be called host). */
const HOST_LABEL = 'host namespace';
/** Where a namespace's nft monitor writes (the host's HOST name is '', so it gets one). */
const monitorLog = (dir: string, ns: string) => join(dir, `${ns === HOST ? '.host' : ns}.log`);
import { parseAddress } from '../model/net.js';
import { parallel, type CommandRunner } from '../runner/runner.js';
import { sendProbe } from '../verify/probes.js';
import { TRACE_TABLE, firstPacket, orderNamespaces, outcome, parseTrace, traceTable, type Hop, type Outcome, type TraceSpec } from './parse.js';
import { sleep } from '../core/time.js';

export class TraceError extends CliError {
  override name = 'TraceError';
}

export interface TraceResult {
  from: string;
  to: string;
  proto: TraceSpec['proto'];
  port?: number;
  probe: { command: string; ok: boolean; output: string };
  hops: Hop[];
  outcome: Outcome;
}

/**
 * Namespaces joined by a veth, or by one bridge (and the bridge's own namespace). A bridge in a
 * namespace that was traced (`through`) is a hop of its own: its members are adjacent only to it.
 */
export function adjacency(lab: Lab, through: Set<string> = new Set()): (a: string, b: string) => boolean {
  const pairs = new Set<string>();
  const join2 = (a: string, b: string) => {
    pairs.add(`${a}|${b}`);
    pairs.add(`${b}|${a}`);
  };
  const onBridge = new Map<string, Set<string>>();
  for (const l of lab.links) {
    const [x, y] = l.ends;
    if (!x.master && !y.master) join2(x.ns, y.ns);
    for (const e of l.ends) {
      if (!e.master) continue;
      const other = e === x ? y : x;
      const set = onBridge.get(e.master) ?? new Set([lab.bridges.get(e.master)!.ns]);
      set.add(other.master ? lab.bridges.get(other.master)!.ns : other.ns);
      onBridge.set(e.master, set);
    }
  }
  for (const [br, set] of onBridge) {
    const home = lab.bridges.get(br)!.ns;
    for (const a of set) for (const b of set) if (a !== b && (!through.has(home) || a === home || b === home)) join2(a, b);
  }
  return (a, b) => pairs.has(`${a}|${b}`);
}

/** The node that holds an address (on a link end or a bridge inside it). */
function ownerOf(lab: Lab, addr: string): string | undefined {
  for (const l of lab.links) for (const e of l.ends) if (e.addresses.some((a) => a.cidr.split('/')[0] === addr)) return e.ns;
  for (const b of lab.bridges.values()) if (b.addresses.some((a) => a.cidr.split('/')[0] === addr)) return b.ns;
  return undefined;
}

export async function trace(runner: CommandRunner, lab: Lab, opts: { from: string; to: string; proto: TraceSpec['proto']; port?: number; signal?: AbortSignal }): Promise<TraceResult> {
  if (!lab.nodes.has(opts.from)) throw new TraceError(`no node named '${opts.from}' in lab ${lab.name}`);
  const addr = parseAddress(opts.to);
  if (!addr) throw new TraceError(`--to must be an address, got '${opts.to}'`);
  if (opts.proto !== 'icmp' && !opts.port) throw new TraceError(`--proto ${opts.proto} needs --port`);
  const spec: TraceSpec = { to: addr.addr, family: addr.family, proto: opts.proto, ...(opts.port ? { port: opts.port } : {}) };
  // The host too when the lab has objects there: a Docker-like host's FORWARD sees bridged traffic
  // (br_netfilter). Its trace table has a name of its own: other traces may run in the host.
  const hostToo = [...lab.bridges.values()].some((b) => b.ns === HOST) || lab.links.some((l) => l.ends.some((e) => e.ns === HOST));
  const namespaces = [...lab.nodes.keys(), ...(hostToo ? [HOST] : [])];
  const tableOf = (ns: string) => (ns === HOST ? `${TRACE_TABLE}_${process.pid}` : TRACE_TABLE);
  const at = (ns: string, argv: string[]) => (ns === HOST ? argv : ['ip', 'netns', 'exec', ns, ...argv]);
  const dir = mkdtempSync(join(tmpdir(), 'netlab-trace-'));
  const fam = addr.family === 'ipv4' ? 'ip' : 'ip6';
  const monitors: number[] = [];
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await Promise.all(monitors.map((pid) => runner.run(['kill', '-TERM', '--', `-${pid}`])));
    await parallel(namespaces, 4, (ns) => runner.run(at(ns, ['nft', 'delete', 'table', fam, tableOf(ns)])));
  };
  // Asked to stop: the trace tables go first, then trace() throws Exit(130) for the caller to end on.
  let onAbort = () => {};
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => void cleanup().finally(() => reject(new Exit(EXIT.interrupted)));
  });
  stopped.catch(() => {});
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const work = (async (): Promise<TraceResult> => {
    await parallel(namespaces, 4, async (ns) => {
      const r = await runner.run(at(ns, ['nft', '-f', '-']), { input: traceTable(spec, tableOf(ns)) });
      if (r.exitCode !== 0)
        throw new TraceError(`cannot turn tracing on in ${ns === HOST ? HOST_LABEL : ns}: ${r.stderr.trim()}\n  hint: tracing needs nft (apt-get install nftables) and a kernel with nf_tables`);
    });
    for (const ns of namespaces) monitors.push((await runner.spawnDetached(at(ns, ['nft', 'monitor', 'trace']), monitorLog(dir, ns))).pid);
    await sleep(400); // let every monitor subscribe before the probe
    const { argv, result: pr } = await sendProbe(runner, { from: opts.from, to: addr.addr, family: addr.family, proto: opts.proto, ...(opts.port ? { port: opts.port } : {}) });
    await sleep(300);
    await cleanup();
    const traced = new Map<string, Hop[]>();
    for (const ns of namespaces) {
      let text = '';
      try {
        text = readFileSync(monitorLog(dir, ns), 'utf8');
      } catch {}
      const hops = parseTrace(ns === HOST ? HOST_LABEL : ns, text);
      if (hops.length) traced.set(ns, hops);
    }
    // The first packet (the echo request, the SYN) in each namespace. Not by trace id: the
    // kernel gives a packet a new one where it crosses a namespace, and at times within one.
    const order = orderNamespaces(opts.from, [...traced.keys()], adjacency(lab, new Set(traced.has(HOST) ? [HOST] : [])));
    const hops = order.flatMap((ns) => firstPacket(traced.get(ns)!));
    const ok = pr.exitCode === 0;
    return {
      from: opts.from,
      to: addr.addr,
      proto: opts.proto,
      ...(opts.port ? { port: opts.port } : {}),
      probe: { command: argv.join(' '), ok, output: `${pr.stdout}${pr.stderr}`.trim() },
      hops,
      outcome: outcome(hops, ok, ownerOf(lab, addr.addr)),
    };
  })();
  work.catch(() => {}); // what it throws after a stop is not waited for
  try {
    return await Promise.race([work, stopped]);
  } finally {
    await cleanup();
    opts.signal?.removeEventListener('abort', onAbort);
    rmSync(dir, { recursive: true, force: true });
  }
}
