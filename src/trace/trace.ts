// netlab trace: turns on netfilter tracing in every namespace of a lab, sends one probe, and
// reports every packet of its connection as the kernel handled it: the chains and rules, NAT,
// marks, the kernel's routing answers, and where each packet really ended.
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
import {
  TRACE_TABLE,
  connectionSegments,
  endingOf,
  formatPackets,
  parseConntrack,
  type Conntrack,
  packetsOf,
  parseSegments,
  rewritesOf,
  routeQuery,
  routingWhy,
  traceTable,
  type Hop,
  type Outcome,
  type Packet,
  type PeerOf,
  type Routing,
  type Segment,
  type TraceSpec,
} from './parse.js';
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
  /** The first packet's chains, namespace by namespace (what trace checks match `passes` against). */
  hops: Hop[];
  /** Every packet of the probe's connection, in order, each with its pass through each namespace. */
  packets: PacketResult[];
  /** The first packet's ending. */
  outcome: Outcome;
}

/** A packet as --json shows it: its passes through namespaces, with the kernel's routing answers. */
export interface PacketResult extends Omit<Packet, 'segments'> {
  segments: (Segment & { routing?: Routing; conntrack?: Conntrack; rewrites: ReturnType<typeof rewritesOf> })[];
  ending: Outcome;
}

/** The namespace's label in a trace (the host's own has no name). */
const labelOf = (ns: string) => (ns === HOST ? HOST_LABEL : ns);
const nsOfLabel = (label: string) => (label === HOST_LABEL ? HOST : label);

/** The other end of a lab interface: where a packet leaving through it enters next. */
export function peers(lab: Lab): PeerOf {
  return (ns, ifname) => {
    for (const l of lab.links)
      for (const [i, e] of l.ends.entries())
        if (e.ns === nsOfLabel(ns) && e.name === ifname) {
          const o = l.ends[1 - i]!;
          return { ns: labelOf(o.ns), ifname: o.name };
        }
    return undefined;
  };
}

const IPTABLES_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

/** nft rule handle -> the iptables rule (`-A CHAIN ...`) at the same place of the same chain. */
export function iptablesByHandle(nftList: string, save: string, table: string): Map<number, string> {
  const handles = new Map<string, number[]>();
  let chain = '';
  for (const line of nftList.split('\n')) {
    const c = /^\s*chain (\S+) \{/.exec(line);
    if (c) {
      chain = c[1]!;
      handles.set(chain, []);
      continue;
    }
    const h = /# handle (\d+)\s*$/.exec(line);
    if (h && chain && !/^\s*(type|policy) /.test(line)) handles.get(chain)!.push(Number(h[1]));
  }
  const rules = new Map<string, string[]>();
  let inTable = false;
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) inTable = line.slice(1).trim() === table;
    const a = /^-A (\S+) /.exec(line);
    if (inTable && a) rules.set(a[1]!, [...(rules.get(a[1]!) ?? []), line]);
  }
  const out = new Map<number, string>();
  for (const [c, hs] of handles) {
    const rs = rules.get(c);
    if (rs && rs.length === hs.length) hs.forEach((h, i) => out.set(h, rs[i]!));
  }
  return out;
}

/** ss output -> the listening socket for a port (and address), with the process when ss names it. */
export function listenerOf(ss: string, port: number, addr: string): string | undefined {
  for (const line of ss.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    const local = f[3]!;
    const i = local.lastIndexOf(':');
    const a = local
      .slice(0, i)
      .replace(/^\[|\]$/g, '')
      .replace(/%.*$/, '');
    if (Number(local.slice(i + 1)) !== port || !['0.0.0.0', '*', '::', addr].includes(a)) continue;
    const proc = /users:\(\("([^"]+)",pid=(\d+)/.exec(line);
    return `${local}${proc ? ` (${proc[1]}, pid ${proc[2]})` : ''}`;
  }
  return undefined;
}

export async function trace(runner: CommandRunner, lab: Lab, opts: { from: string; to: string; proto: TraceSpec['proto']; port?: number; signal?: AbortSignal }): Promise<TraceResult> {
  if (!lab.nodes.has(opts.from)) throw new TraceError(`no node named '${opts.from}' in lab ${lab.name}`);
  const addr = parseAddress(opts.to);
  if (!addr) throw new TraceError(`--to must be an address, got '${opts.to}'`);
  if (opts.proto !== 'icmp' && !opts.port) throw new TraceError(`--proto ${opts.proto} needs --port`);
  const spec: TraceSpec = { to: addr.addr, family: addr.family, proto: opts.proto, ...(opts.port ? { port: opts.port } : {}) };
  // The host too when the lab has objects there: a host bridge's hops (bridge family, and the
  // iptables chains br_netfilter passes bridged packets through). Only the lab's interfaces are
  // traced there, in a table of its own name: other traces may run in the host.
  const hostIfaces = [...[...lab.bridges.values()].filter((b) => b.ns === HOST).map((b) => b.name), ...lab.links.flatMap((l) => l.ends.filter((e) => e.ns === HOST).map((e) => e.name))];
  const namespaces = [...lab.nodes.keys(), ...(hostIfaces.length ? [HOST] : [])];
  const withBridge = new Set([...lab.bridges.values()].map((b) => b.ns));
  const tableOf = (ns: string) => (ns === HOST ? `${TRACE_TABLE}_${process.pid}` : TRACE_TABLE);
  const at = (ns: string, argv: string[]) => (ns === HOST ? argv : ['ip', 'netns', 'exec', ns, ...argv]);
  const dir = mkdtempSync(join(tmpdir(), 'netlab-trace-'));
  const monitors: number[] = [];
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await Promise.all(monitors.map((pid) => runner.run(['kill', '-TERM', '--', `-${pid}`])));
    await parallel(namespaces, 4, async (ns) => {
      await runner.run(at(ns, ['nft', 'delete', 'table', 'inet', tableOf(ns)]));
      if (withBridge.has(ns)) await runner.run(at(ns, ['nft', 'delete', 'table', 'bridge', tableOf(ns)]));
    });
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
      const table = (bridge: boolean) => traceTable(spec, tableOf(ns), { bridge, ...(ns === HOST ? { ifaces: hostIfaces } : {}) });
      let r = await runner.run(at(ns, ['nft', '-f', '-']), { input: table(withBridge.has(ns)) });
      // A kernel without nftables' bridge family: trace without bridge hops rather than not at all.
      if (r.exitCode !== 0 && withBridge.has(ns)) r = await runner.run(at(ns, ['nft', '-f', '-']), { input: table(false) });
      if (r.exitCode !== 0) throw new TraceError(`cannot turn tracing on in ${labelOf(ns)}: ${r.stderr.trim()}\n  hint: tracing needs nft (apt-get install nftables) and a kernel with nf_tables`);
    });
    for (const ns of namespaces) monitors.push((await runner.spawnDetached(at(ns, ['nft', '-a', 'monitor', 'trace']), monitorLog(dir, ns))).pid);
    await sleep(400); // let every monitor subscribe before the probe
    const { argv, result: pr } = await sendProbe(runner, { from: opts.from, to: addr.addr, family: addr.family, proto: opts.proto, ...(opts.port ? { port: opts.port } : {}) });
    await sleep(300);
    await cleanup();
    const all: Segment[] = [];
    for (const ns of namespaces) {
      let text = '';
      try {
        text = readFileSync(monitorLog(dir, ns), 'utf8');
      } catch {}
      all.push(...parseSegments(labelOf(ns), text, tableOf(ns)));
    }
    const conn = connectionSegments(all, opts.from, spec);
    await addIptablesForms(runner, conn, at, addr.family);
    const peerOf = peers(lab);
    const packets = packetsOf(conn, opts.from, peerOf);
    // The kernel's routing answer where it decided something for the first packet of each
    // direction, and wherever routing ended a packet.
    const firstReply = packets.find((p) => p.direction === 'reply');
    const ask = new Set<Segment>([...(packets[0]?.segments ?? []), ...(firstReply?.segments ?? []), ...conn.filter((s) => s.ending.kind === 'routing')]);
    const routing = new Map<Segment, Routing>();
    await parallel([...ask], 4, async (s) => {
      let q = routeQuery(s);
      if (!q) return;
      const ns = nsOfLabel(s.ns);
      let r = await runner.run(at(ns, q));
      if (r.exitCode !== 0 && s.origin === 'local' && s.ending.kind === 'sent') {
        // Sent from an address that is not local (a transparent socket): ask for the destination alone.
        const i = q.indexOf('from');
        q = [...q.slice(0, i), ...q.slice(i + 2)];
        r = await runner.run(at(ns, q));
      }
      const answer = (r.exitCode === 0 ? r.stdout.split('\n')[0]! : r.stderr.replace(/^RTNETLINK answers: /, '')).trim();
      const route: Routing = { command: q.join(' '), answer, ok: r.exitCode === 0 };
      if (!route.ok) {
        const iif = q[q.indexOf('iif') + 1];
        const fwd = q.includes('iif') ? (await runner.run(at(ns, ['cat', `/proc/sys/net/ipv${addr.family === 'ipv4' ? 4 : 6}/conf/${iif}/forwarding`]))).stdout.trim() : undefined;
        route.why = routingWhy(answer, q[3]!, q.includes('iif') ? iif : undefined, fwd);
      }
      routing.set(s, route);
    });
    // conntrack's view of the connection where the first packet was rewritten: original and reply tuples.
    const tracked = new Map<Segment, Conntrack>();
    await parallel(
      (packets[0]?.segments ?? []).filter((s) => rewritesOf(s).length),
      4,
      async (s) => {
        const h = s.entry;
        const ports = h.sport !== undefined && h.dport !== undefined ? ['--orig-port-src', String(h.sport), '--orig-port-dst', String(h.dport)] : [];
        const r = await runner.run(at(nsOfLabel(s.ns), ['conntrack', '-L', '-p', h.proto, '--orig-src', h.src, '--orig-dst', h.dst, ...ports]));
        const c = r.exitCode === 0 ? parseConntrack(r.stdout) : undefined;
        if (c) tracked.set(s, c);
      },
    );
    const packetResults: PacketResult[] = packets.map((p) => ({
      n: p.n,
      label: p.label,
      direction: p.direction,
      segments: p.segments.map((s) => ({ ...s, rewrites: rewritesOf(s), ...(routing.has(s) ? { routing: routing.get(s)! } : {}), ...(tracked.has(s) ? { conntrack: tracked.get(s)! } : {}) })),
      ending: endingOf(p, peerOf, routing.get(p.segments.at(-1)!)),
    }));
    const ok = pr.exitCode === 0;
    let out: Outcome;
    const first = packetResults[0];
    if (!first) {
      // Nothing left the source: ask its routing why.
      const q = ['ip', 'route', 'get', addr.addr];
      const r = await runner.run(at(opts.from, q));
      out = {
        result: 'unseen',
        text:
          r.exitCode === 0
            ? `no namespace of the lab saw the packet (${opts.from} routes it: ${r.stdout.split('\n')[0]!.trim()})`
            : `${opts.from} did not send it: ${routingWhy(r.stderr.replace(/^RTNETLINK answers: /, ''), addr.addr, undefined, undefined)} (${q.join(' ')} says: ${r.stderr.replace(/^RTNETLINK answers: /, '').trim()})`,
      };
    } else {
      out = { ...first.ending };
      if (out.result === 'delivered') {
        const last = first.segments.at(-1)!;
        const h = last.hops.find((x) => x.own && x.chain === 'local_in')?.header ?? last.exit;
        if (h.proto === 'tcp' || h.proto === 'udp') {
          const tproxy = last.hops
            .flatMap((x) => x.hits)
            .map((x) => /TPROXY.*--on-port (\d+)|tproxy.* to :?(\d+)/.exec(`${x.iptables ?? ''} ${x.rule}`))
            .find((m) => m);
          const port = tproxy ? Number(tproxy[1] ?? tproxy[2]) : h.dport!;
          const ss = await runner.run(at(nsOfLabel(last.ns), ['ss', '-Hlnp', h.proto === 'tcp' ? '-t' : '-u']));
          const sock = listenerOf(ss.stdout, port, h.dst);
          if (sock) out.socket = `${h.proto} ${sock}`;
          out.text = sock
            ? `delivered to a socket in ${last.ns}: ${h.proto} ${sock}${tproxy ? ` (TPROXY's port; the packet still says ${h.dst}:${h.dport})` : ''}`
            : `delivered to ${last.ns}, but no ${h.proto} socket listens on port ${port} there${h.proto === 'tcp' ? ' (the kernel answers with a reset)' : ''}`;
        } else out.text = `delivered locally in ${last.ns} (the kernel answers an echo request itself)`;
      }
      const nat = first.segments.flatMap((s) => s.rewrites.map((r) => `${r.kind} ${r.before} -> ${r.after} in ${s.ns}`));
      if (nat.length) out.text += `; on the way: ${nat.join(', ')}`;
    }
    const hops = (first?.segments ?? []).flatMap((s) => {
      const mine = s.hops.filter((h) => !h.own);
      if (mine.length) return mine;
      const h0 = s.hops[0]!;
      return [{ ...h0, table: '-', chain: h0.hook, verdict: 'no iptables rules' }];
    });
    return {
      from: opts.from,
      to: addr.addr,
      proto: opts.proto,
      ...(opts.port ? { port: opts.port } : {}),
      probe: { command: argv.join(' '), ok, output: `${pr.stdout}${pr.stderr}`.trim() },
      hops,
      packets: packetResults,
      outcome: out,
    };
  })();
  work.catch(() => {}); // what it throws after a stop is not waited for
  try {
    return await Promise.race([work, stopped]);
  } finally {
    await cleanup();
    opts.signal?.removeEventListener('abort', onAbort);
    // NETLAB_TRACE_KEEP keeps the raw monitor output (for a bug report, or a test fixture).
    if (process.env.NETLAB_TRACE_KEEP) process.stderr.write(`netlab trace: the monitors' output is in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** Adds the iptables form to every matched rule iptables-nft made (its place in the chain gives it). */
async function addIptablesForms(runner: CommandRunner, segs: Segment[], at: (ns: string, argv: string[]) => string[], family: 'ipv4' | 'ipv6'): Promise<void> {
  const want = new Map<string, Set<string>>();
  for (const s of segs)
    for (const h of s.hops)
      if (!h.own && h.hits.some((x) => x.handle !== undefined) && IPTABLES_TABLES.has(h.table) && (h.family === 'ip' || h.family === 'ip6'))
        want.set(s.ns, (want.get(s.ns) ?? new Set()).add(`${h.family} ${h.table}`));
  await parallel([...want], 4, async ([label, tables]) => {
    const ns = nsOfLabel(label);
    const save = await runner.run(at(ns, [family === 'ipv4' ? 'iptables-save' : 'ip6tables-save']));
    for (const ft of tables) {
      const [fam, table] = ft.split(' ') as [string, string];
      const list = await runner.run(at(ns, ['nft', '-a', 'list', 'table', fam, table]));
      const map = iptablesByHandle(list.stdout, save.stdout, table);
      for (const s of segs)
        if (s.ns === label) for (const h of s.hops) if (h.family === fam && h.table === table) for (const x of h.hits) if (x.handle !== undefined && map.has(x.handle)) x.iptables = map.get(x.handle)!;
    }
  });
}

/**
 * The trace as a reader sees it: each packet, namespace by namespace, then the outcome. Given only
 * hops and an outcome (the form before packets existed), the first packet's chains in short.
 */
export function formatTrace(r: TraceResult, lab: Lab): string[];
export function formatTrace(hops: Hop[], outcome: Outcome): string[];
export function formatTrace(a: TraceResult | Hop[], b: Lab | Outcome): string[] {
  if (!Array.isArray(a)) return formatPackets(a.packets, peers(b as Lab), a.outcome);
  const lines: string[] = [];
  let ns = '';
  for (const h of a) {
    if (h.ns !== ns) lines.push(`${(ns = h.ns)}${h.iif ? ` (in: ${h.iif})` : ''}`);
    lines.push(`  ${h.hook.padEnd(12)} ${`${h.table}/${h.chain}`.padEnd(22)} ${h.verdict || 'continue'}${h.hits.map((x) => `\n      rule ${x.iptables ?? x.rule}`).join('')}`);
  }
  return [...lines, `=> ${(b as Outcome).text}`];
}
