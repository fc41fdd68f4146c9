// netlab trace: turns on netfilter tracing in every namespace of a lab, sends one probe, and
// reports every packet of its connection as the kernel handled it: the chains and rules, NAT,
// marks, the kernel's routing answers, and where each packet really ended.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, EXIT, Exit } from '../core/errors.js';
import { stateDir } from '../core/state.js';
import { sleep } from '../core/time.js';
import { crossLinks, VXLAN_PORT } from '../load/split.js';
import { parseAddress } from '../model/net.js';
import { HOST, type Lab } from '../model/types.js';
import { startTimes, writingInto } from '../observe/processes.js';
import { parallel, type CommandRunner } from '../runner/runner.js';
import { sendProbe } from '../verify/probes.js';
import {
  TRACE_TABLE,
  connection,
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
  tunnelOut,
  type Hop,
  type Outcome,
  type Packet,
  type PeerOf,
  type Routing,
  type Segment,
  type TraceSpec,
  type Tunnel,
} from './parse.js';

/** How hops in the host's own namespace are labelled (a node may be called host). */
const HOST_LABEL = 'host namespace';
/** Where a namespace's nft monitor writes (the host's HOST name is '', so it gets one). */
const monitorLog = (dir: string, ns: string) => join(dir, `${ns === HOST ? '.host' : ns}.log`);

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
  segments: TracedSegment[];
  ending: Outcome;
}

/** The namespace's label in a trace (the host's own has no name). */
const labelOf = (ns: string) => (ns === HOST ? HOST_LABEL : ns);
const nsOfLabel = (label: string) => (label === HOST_LABEL ? HOST : label);

/** The lab's VXLAN tunnels by namespace label and interface: vxlan interfaces, and the links across hosts. */
export function tunnels(lab: Lab): Map<string, Tunnel> {
  const out = new Map<string, Tunnel>();
  for (const n of lab.nodes.values())
    for (const i of n.interfaces)
      if (i.vxlan)
        out.set(`${labelOf(n.name)}\0${i.name}`, {
          node: n.name,
          iface: i.name,
          vni: i.vxlan.id,
          remote: i.vxlan.remote,
          local: i.vxlan.local,
          port: i.vxlan.port,
          ...(i.peer?.host ? { peerHost: i.peer.host } : {}),
          ...(i.peer?.node ? { peerNode: i.peer.node } : {}),
        });
  if (lab.hosts) {
    const hostOf = (ns: string) => lab.hosts!.get(lab.nodes.get(ns)?.host ?? '');
    for (const { link, vni } of crossLinks(lab))
      link.ends.forEach((e, k) => {
        const o = link.ends[1 - k]!;
        const [here, there] = [hostOf(e.ns), hostOf(o.ns)];
        if (!here || !there) return;
        out.set(`${labelOf(e.ns)}\0${e.name}`, { node: e.ns, iface: e.name, vni, remote: there.address, local: here.address, port: VXLAN_PORT, host: here.name, peerHost: there.name, peerNode: o.ns });
      });
  }
  return out;
}

/** The other end of a lab interface: where a packet leaving through it enters next; and the tunnel it is, if it is one. */
export function peers(lab: Lab): PeerOf {
  const tun = tunnels(lab);
  return (ns, ifname) => {
    const t = tun.get(`${ns}\0${ifname}`);
    const tunnel = t ? { tunnel: t } : {};
    for (const l of lab.links)
      for (const [i, e] of l.ends.entries())
        if (e.ns === nsOfLabel(ns) && e.name === ifname) {
          const o = l.ends[1 - i]!;
          return { ns: labelOf(o.ns), ifname: o.name, ...tunnel };
        }
    return t ? tunnel : undefined;
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

/** What a trace asks for, checked: the probe's destination, protocol and port. */
export function traceSpec(opts: { to: string; proto: TraceSpec['proto']; port?: number }): TraceSpec {
  const addr = parseAddress(opts.to);
  if (!addr) throw new TraceError(`--to must be an address, got '${opts.to}'`);
  if (opts.proto !== 'icmp' && !opts.port) throw new TraceError(`--proto ${opts.proto} needs --port`);
  return { to: addr.addr, family: addr.family, proto: opts.proto, ...(opts.port ? { port: opts.port } : {}) };
}

/**
 * Tracing turned on in a lab's namespaces: the trace tables (written to `dir/session.json` before
 * they are made) and the monitors (written as each starts), so that another netlab run (a trace
 * across hosts collects in a later run) or a stop finds and removes exactly these.
 */
export interface Armed {
  dir: string;
  /**
   * The netlab run that armed it and cleans up after itself, by pid and start time: when it is
   * gone and the session is still here (kill -9), collectStale removes what it armed. None for a
   * host's part of a trace across hosts, which later runs collect by design.
   */
  owner?: { pid: number; start: string };
  tables: { ns: string; table: string; bridge: boolean }[];
  /** Monitors by pid and start time (a pid is reused: the start time proves it is ours). */
  monitors: { ns: string; pid: number; start: string }[];
}

const at = (ns: string, argv: string[]) => (ns === HOST ? argv : ['ip', 'netns', 'exec', ns, ...argv]);
const sessionsDir = () => join(stateDir(), 'trace');
const SESSION = /^(.+)\.([0-9a-f]{4,32})$/;

/** Where a trace session keeps what it armed and its monitors' output: LAB.ID under the state directory. */
export function sessionDir(lab: string, id: string): string {
  if (!/^[0-9a-f]{4,32}$/.test(id)) throw new TraceError(`not a trace session id: '${id}'`);
  return join(sessionsDir(), `${lab}.${id}`);
}

const sessionFile = (dir: string) => join(dir, 'session.json');
/** Written whole or not at all (a kill -9 mid-write must not leave a session no one can read). */
function saveSession(a: Armed): void {
  writeFileSync(`${sessionFile(a.dir)}.tmp`, `${JSON.stringify(a)}\n`);
  renameSync(`${sessionFile(a.dir)}.tmp`, sessionFile(a.dir));
}

/** A session armed by another netlab run (undefined: none, or already collected). */
export function readSession(dir: string): Armed | undefined {
  try {
    return JSON.parse(readFileSync(sessionFile(dir), 'utf8')) as Armed;
  } catch {
    return undefined;
  }
}

/** Arm: the trace tables in every namespace of the lab (the host's too when the lab has objects there), then a monitor in each. */
export async function arm(runner: CommandRunner, lab: Lab, spec: TraceSpec, dir: string, signal?: AbortSignal, owner?: Armed['owner']): Promise<Armed> {
  // The host too when the lab has objects there: a host bridge's hops (bridge family, and the
  // iptables chains br_netfilter passes bridged packets through). Only the lab's interfaces are
  // traced there, in a table of its own name: other traces may run in the host.
  const hostIfaces = [...[...lab.bridges.values()].filter((b) => b.ns === HOST).map((b) => b.name), ...lab.links.flatMap((l) => l.ends.filter((e) => e.ns === HOST).map((e) => e.name))];
  const namespaces = [...lab.nodes.keys(), ...(hostIfaces.length ? [HOST] : [])];
  const withBridge = new Set([...lab.bridges.values()].map((b) => b.ns));
  // The host's table is named by the session (LAB.ID: the pid and start of a trace, or a trace
  // across hosts' id), never by a pid alone: a pid comes back, and collecting a killed trace's
  // table must not delete a live trace's.
  const tableOf = (ns: string) => (ns === HOST ? `${TRACE_TABLE}_${dir.slice(dir.lastIndexOf('.') + 1)}` : TRACE_TABLE);
  mkdirSync(dir, { recursive: true });
  const armed: Armed = { dir, ...(owner ? { owner } : {}), tables: namespaces.map((ns) => ({ ns, table: tableOf(ns), bridge: withBridge.has(ns) })), monitors: [] };
  saveSession(armed);
  // A stop (or another run's disarm) removes the session while this runs: then this undoes its own work.
  const stillArmed = () => {
    if (signal?.aborted || !existsSync(sessionFile(dir))) throw new TraceError('tracing was turned off while it was being turned on');
  };
  try {
    await parallel(namespaces, 4, async (ns) => {
      const table = (bridge: boolean) => traceTable(spec, tableOf(ns), { bridge, ...(ns === HOST ? { ifaces: hostIfaces } : {}) });
      let r = await runner.run(at(ns, ['nft', '-f', '-']), { input: table(withBridge.has(ns)) });
      // A kernel without nftables' bridge family: trace without bridge hops rather than not at all.
      if (r.exitCode !== 0 && withBridge.has(ns)) r = await runner.run(at(ns, ['nft', '-f', '-']), { input: table(false) });
      if (r.exitCode !== 0) throw new TraceError(`cannot turn tracing on in ${labelOf(ns)}: ${r.stderr.trim()}\n  hint: tracing needs nft (apt-get install nftables) and a kernel with nf_tables`);
    });
    for (const ns of namespaces) {
      stillArmed();
      const { pid } = await runner.spawnDetached(at(ns, ['nft', '-a', 'monitor', 'trace']), monitorLog(dir, ns));
      armed.monitors.push({ ns, pid, start: startTimes([pid]).get(pid) ?? '' });
      saveSession(armed);
    }
    await sleep(400); // let every monitor subscribe before the probe
    stillArmed();
  } catch (e) {
    await disarm(runner, armed);
    throw e;
  }
  return armed;
}

/** Disarm: the monitors (those still ours) stopped, the trace tables deleted. Safe to repeat. */
export async function disarm(runner: CommandRunner, a: Armed): Promise<void> {
  const starts = startTimes(a.monitors.map((m) => m.pid));
  const ours = a.monitors.filter((m) => m.start && starts.get(m.pid) === m.start);
  await Promise.all(ours.map((m) => runner.run(['kill', '-TERM', '--', `-${m.pid}`])));
  await parallel(a.tables, 4, async (t) => {
    await runner.run(at(t.ns, ['nft', 'delete', 'table', 'inet', t.table]));
    if (t.bridge) await runner.run(at(t.ns, ['nft', 'delete', 'table', 'bridge', t.table]));
  });
  a.monitors = [];
  a.tables = [];
  if (readSession(a.dir)) saveSession(a);
}

/** A trace session whose netlab run ended without cleaning up (kill -9), and what it had armed. */
export interface StaleTrace {
  lab: string;
  /** The pid of the netlab trace run that was killed. */
  pid: number;
  tables: number;
  monitors: number;
}

/**
 * Collects the trace sessions of these labs (default: every lab's) whose netlab run is gone: stops
 * their monitors (those recorded, by pid and start time, and any process still writing its output
 * into the session's directory, which only netlab's monitors do), deletes their trace tables (the
 * host's netlab_trace_PID among them) and removes the directory. A session whose run is alive is
 * left alone. With dryRun, only lists them.
 */
export async function collectStale(runner: CommandRunner, labs?: Set<string>, opts: { dryRun?: boolean } = {}): Promise<StaleTrace[]> {
  let names: string[];
  try {
    names = readdirSync(sessionsDir());
  } catch {
    return []; // no trace ever ran here
  }
  const out: StaleTrace[] = [];
  for (const name of names.sort()) {
    const lab = SESSION.exec(name)?.[1];
    if (!lab || (labs && !labs.has(lab))) continue;
    const dir = join(sessionsDir(), name);
    const a = readSession(dir);
    if (!a?.owner || startTimes([a.owner.pid]).get(a.owner.pid) === a.owner.start) continue;
    a.dir = dir;
    const writers = writingInto(dir);
    const recorded = new Set(a.monitors.map((m) => m.pid));
    out.push({ lab, pid: a.owner.pid, tables: a.tables.length, monitors: new Set([...recorded, ...writers.map((w) => w.pid)]).size });
    if (opts.dryRun) continue;
    await disarm(runner, a);
    // A monitor started but not yet recorded when its run was killed: its output file names it.
    const starts = startTimes(writers.map((w) => w.pid));
    const unrecorded = writers.filter((w) => !recorded.has(w.pid) && starts.get(w.pid) === w.start);
    await Promise.all(unrecorded.map((w) => runner.run(['kill', '-TERM', '--', `-${w.pid}`])));
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** Every packet the monitors saw, one segment per packet and namespace (call after disarm). */
export function monitored(a: Armed, namespaces: string[]): Segment[] {
  const all: Segment[] = [];
  for (const ns of namespaces) {
    let text = '';
    try {
      text = readFileSync(monitorLog(a.dir, ns), 'utf8');
    } catch {}
    all.push(...parseSegments(labelOf(ns), text, ns === HOST ? hostTableOf(a) : TRACE_TABLE));
  }
  return all;
}

const hostTableOf = (a: Armed) => a.tables.find((t) => t.ns === HOST)?.table ?? `${TRACE_TABLE}_${a.dir.slice(a.dir.lastIndexOf('.') + 1)}`;

/** A segment as the trace reports it: with its rewrites and, where asked, the kernel's routing answer, conntrack's entry and the socket that got it. */
export type TracedSegment = Segment & { routing?: Routing; conntrack?: Conntrack; rewrites: ReturnType<typeof rewritesOf>; delivery?: { text: string; socket?: string } };

/** Where the connection is found on a host without its source: the keys and addresses the source's host saw, and the first packet's source address. */
export interface Seed {
  keys: string[];
  addrs: string[];
  firstSrc: string;
}

/**
 * The probe's connection among the segments of one host, with what that host's kernel answers
 * about it: the iptables form of matched rules, routing (first packet of each way, and where
 * routing ended one), conntrack (where the first packet was rewritten), the socket a packet was
 * delivered to. Found from the source node when it is here, else from a seed.
 */
export async function enrich(runner: CommandRunner, lab: Lab, all: Segment[], spec: TraceSpec, from: { node: string } | { seed: Seed }): Promise<{ segments: TracedSegment[]; seed: Seed }> {
  const c = 'node' in from ? connection(all, from.node, spec) : connection(all, '', spec, from.seed);
  const conn = c.segments;
  const fromNode = 'node' in from ? from.node : '';
  const firstSrc = 'seed' in from ? from.seed.firstSrc : (conn[0]?.entry.src ?? '');
  await addIptablesForms(runner, conn, spec.family);
  const peerOf = peers(lab);
  const packets = packetsOf(conn, fromNode, peerOf, firstSrc || undefined);
  const firstReq = packets.find((p) => p.direction === 'request');
  const firstReply = packets.find((p) => p.direction === 'reply');
  const ask = new Set<Segment>([...(firstReq?.segments ?? []), ...(firstReply?.segments ?? []), ...conn.filter((s) => s.ending.kind === 'routing')]);
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
      const fwd = q.includes('iif') ? (await runner.run(at(ns, ['cat', `/proc/sys/net/ipv${spec.family === 'ipv4' ? 4 : 6}/conf/${iif}/forwarding`]))).stdout.trim() : undefined;
      route.why = routingWhy(answer, q[3]!, q.includes('iif') ? iif : undefined, fwd);
    }
    routing.set(s, route);
  });
  // conntrack's view of the connection where the first packet was rewritten: original and reply tuples.
  const tracked = new Map<Segment, Conntrack>();
  await parallel(
    (firstReq?.segments ?? []).filter((s) => rewritesOf(s).length),
    4,
    async (s) => {
      const h = s.entry;
      const ports = h.sport !== undefined && h.dport !== undefined ? ['--orig-port-src', String(h.sport), '--orig-port-dst', String(h.dport)] : [];
      const r = await runner.run(at(nsOfLabel(s.ns), ['conntrack', '-L', '-p', h.proto, '--orig-src', h.src, '--orig-dst', h.dst, ...ports]));
      const ct = r.exitCode === 0 ? parseConntrack(r.stdout) : undefined;
      if (ct) tracked.set(s, ct);
    },
  );
  // The socket that got the first packet, where it was delivered (TPROXY hands it to another port).
  const delivered = new Map<Segment, { text: string; socket?: string }>();
  const last = firstReq?.segments.at(-1);
  if (last?.ending.kind === 'delivered') {
    const h = last.hops.find((x) => x.own && x.chain === 'local_in')?.header ?? last.exit;
    if (h.proto === 'tcp' || h.proto === 'udp') {
      const tproxy = last.hops
        .flatMap((x) => x.hits)
        .map((x) => /TPROXY.*--on-port (\d+)|tproxy.* to :?(\d+)/.exec(`${x.iptables ?? ''} ${x.rule}`))
        .find((m) => m);
      const port = tproxy ? Number(tproxy[1] ?? tproxy[2]) : h.dport!;
      const ss = await runner.run(at(nsOfLabel(last.ns), ['ss', '-Hlnp', h.proto === 'tcp' ? '-t' : '-u']));
      const sock = listenerOf(ss.stdout, port, h.dst);
      delivered.set(last, {
        text: sock
          ? `delivered to a socket in ${last.ns}: ${h.proto} ${sock}${tproxy ? ` (TPROXY's port; the packet still says ${h.dst}:${h.dport})` : ''}`
          : `delivered to ${last.ns}, but no ${h.proto} socket listens on port ${port} there${h.proto === 'tcp' ? ' (the kernel answers with a reset)' : ''}`,
        ...(sock ? { socket: `${h.proto} ${sock}` } : {}),
      });
    } else delivered.set(last, { text: `delivered locally in ${last.ns} (the kernel answers an echo request itself)` });
  }
  const segments = conn.map((s) => ({
    ...s,
    rewrites: rewritesOf(s),
    ...(routing.has(s) ? { routing: routing.get(s)! } : {}),
    ...(tracked.has(s) ? { conntrack: tracked.get(s)! } : {}),
    ...(delivered.has(s) ? { delivery: delivered.get(s)! } : {}),
  }));
  return { segments, seed: { keys: c.keys, addrs: c.addrs, firstSrc } };
}

/**
 * The trace from the traced segments of one host or several (pure): packets joined across
 * namespaces (and tunnels), their endings, the first packet's outcome and chains.
 */
export function assemble(segs: TracedSegment[], o: { from: string; spec: TraceSpec; probe: TraceResult['probe']; peerOf: PeerOf; firstSrc?: string; unseen?: string }): TraceResult {
  const { from, spec, peerOf } = o;
  const packets = packetsOf(segs, from, peerOf, o.firstSrc);
  const packetResults: PacketResult[] = packets.map((p) => ({
    n: p.n,
    label: p.label,
    direction: p.direction,
    segments: p.segments,
    ending: endingOf(p, peerOf, p.segments.at(-1)!.routing),
  }));
  let out: Outcome;
  const first = packetResults[0];
  if (!first) out = { result: 'unseen', text: o.unseen ?? 'no namespace of the lab saw the packet' };
  else {
    out = { ...first.ending };
    const last = first.segments.at(-1)!;
    if (out.result === 'delivered' && last.delivery) {
      out.text = last.delivery.text;
      if (last.delivery.socket) out.socket = last.delivery.socket;
    }
    const nat = first.segments.flatMap((s) => s.rewrites.map((r) => `${r.kind} ${r.before} -> ${r.after} in ${s.ns}`));
    if (nat.length) out.text += `; on the way: ${nat.join(', ')}`;
    const crossed = first.segments.slice(0, -1).flatMap((s) => {
      const t = tunnelOut(s, peerOf);
      return t
        ? [`VXLAN VNI ${t.vni} from ${s.ns}${s.host ? ` (host ${s.host})` : ''} to ${t.remote}:${t.port}${t.peerNode ? ` (${t.peerNode}${t.peerHost ? ` on host ${t.peerHost}` : ''})` : ''}`]
        : [];
    });
    if (crossed.length) out.text += `; encapsulated on the way: ${crossed.join(', ')}`;
  }
  const hops = (first?.segments ?? []).flatMap((s) => {
    const mine = s.hops.filter((h) => !h.own);
    if (mine.length) return mine;
    const h0 = s.hops[0]!;
    return [{ ...h0, table: '-', chain: h0.hook, verdict: 'no iptables rules' }];
  });
  return { from, to: spec.to, proto: spec.proto, ...(spec.port ? { port: spec.port } : {}), probe: o.probe, hops, packets: packetResults, outcome: out };
}

/** Why nothing left the source: its routing's answer. */
async function unseenText(runner: CommandRunner, from: string, to: string): Promise<string> {
  const q = ['ip', 'route', 'get', to];
  const r = await runner.run(at(from, q));
  const err = r.stderr.replace(/^RTNETLINK answers: /, '');
  return r.exitCode === 0
    ? `no namespace of the lab saw the packet (${from} routes it: ${r.stdout.split('\n')[0]!.trim()})`
    : `${from} did not send it: ${routingWhy(err, to, undefined, undefined)} (${q.join(' ')} says: ${err.trim()})`;
}

/** Sends the probe from a node of this lab. */
export async function probe(runner: CommandRunner, from: string, spec: TraceSpec): Promise<TraceResult['probe']> {
  const { argv, result: pr } = await sendProbe(runner, { from, to: spec.to, family: spec.family, proto: spec.proto, ...(spec.port ? { port: spec.port } : {}) });
  return { command: argv.join(' '), ok: pr.exitCode === 0, output: `${pr.stdout}${pr.stderr}`.trim() };
}

/**
 * Runs `work` with a stop: asked to stop, `stop()` runs (the trace tables go) and the trace
 * throws Exit(130) for the caller to end on; `stop()` runs at the end in any case.
 */
export async function stoppableTrace<T>(signal: AbortSignal | undefined, work: () => Promise<T>, stop: () => Promise<void>): Promise<T> {
  let done: Promise<void> | undefined;
  const once = () => (done ??= stop());
  let onAbort = () => {};
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => void once().finally(() => reject(new Exit(EXIT.interrupted)));
  });
  stopped.catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  const w = work();
  w.catch(() => {}); // what it throws after a stop is not waited for
  try {
    return await Promise.race([w, stopped]);
  } finally {
    await once();
    signal?.removeEventListener('abort', onAbort);
  }
}

export async function trace(runner: CommandRunner, lab: Lab, opts: { from: string; to: string; proto: TraceSpec['proto']; port?: number; signal?: AbortSignal }): Promise<TraceResult> {
  if (!lab.nodes.has(opts.from)) throw new TraceError(`no node named '${opts.from}' in lab ${lab.name}`);
  const spec = traceSpec(opts);
  // What an earlier trace of this lab left when it was killed goes first: its host table would
  // mark this trace's packets too.
  await collectStale(runner, new Set([lab.name]));
  const dir = sessionDir(lab.name, `${process.pid.toString(16)}${Date.now().toString(16)}`);
  const start = startTimes([process.pid]).get(process.pid);
  let armed: Armed | undefined;
  try {
    return await stoppableTrace(
      opts.signal,
      async () => {
        armed = await arm(runner, lab, spec, dir, opts.signal, start ? { pid: process.pid, start } : undefined);
        const pr = await probe(runner, opts.from, spec);
        await sleep(300);
        const namespaces = armed.tables.map((t) => t.ns);
        await disarm(runner, armed);
        const { segments } = await enrich(runner, lab, monitored(armed, namespaces), spec, { node: opts.from });
        const unseen = segments.length ? undefined : await unseenText(runner, opts.from, spec.to);
        return assemble(segments, { from: opts.from, spec, probe: pr, peerOf: peers(lab), ...(unseen ? { unseen } : {}) });
      },
      async () => {
        armed ??= readSession(dir);
        if (armed) await disarm(runner, armed);
      },
    );
  } finally {
    // NETLAB_TRACE_KEEP keeps the raw monitor output (for a bug report, or a test fixture).
    if (process.env.NETLAB_TRACE_KEEP) {
      // Kept on purpose: without its owner, no later trace, down or gc takes it for a killed one.
      const kept = readSession(dir);
      if (kept?.owner) {
        delete kept.owner;
        saveSession({ ...kept, dir });
      }
      process.stderr.write(`netlab trace: the monitors' output is in ${dir}\n`);
    } else rmSync(dir, { recursive: true, force: true });
  }
}

/** Adds the iptables form to every matched rule iptables-nft made (its place in the chain gives it). */
async function addIptablesForms(runner: CommandRunner, segs: Segment[], family: 'ipv4' | 'ipv6'): Promise<void> {
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
