// Pure parts of `netlab trace`: the nft trace tables, the parsing of `nft monitor trace` into one
// segment per packet and namespace, following a connection across namespaces (through NAT), the
// packets' labels, their endings and the text a reader sees.
import type { Family } from '../model/types.js';

export const TRACE_TABLE = 'netlab_trace';

export interface TraceSpec {
  to: string;
  family: Family;
  proto: 'icmp' | 'tcp' | 'udp';
  port?: number;
}

/** netlab's own chains and the hook each stands for. */
const OWN_HOOK: Record<string, string> = { pre: 'PREROUTING', out: 'OUTPUT', local_in: 'INPUT', forward_: 'FORWARD', post: 'POSTROUTING' };
const HOOKS = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];

/**
 * netlab's trace tables: an inet one (and a bridge one where the namespace has bridges) whose
 * first chains (priority -350, before raw and conntrack) set nftrace on every packet of the
 * probe's protocol and of ICMP (errors about it), and whose last chains (priority 350) only
 * witness the packet: reaching local_in means local delivery, forward_ and post name the interface
 * it leaves by, after NAT. The whole connection is traced, replies too; the packets that are not
 * the probe's are left out afterwards by their addresses. In the host, only packets on the lab's
 * interfaces are traced (`ifaces`).
 */
export function traceTable(t: TraceSpec, name = TRACE_TABLE, opts: { bridge?: boolean; ifaces?: string[] } = {}): string {
  const icmp = t.family === 'ipv4' ? 'icmp' : 'ipv6-icmp';
  const nfproto = `meta nfproto ${t.family}`;
  const l4 = t.proto === 'icmp' ? `meta l4proto ${icmp}` : `meta l4proto { ${t.proto}, ${icmp} }`;
  const set = (dir: 'iifname' | 'oifname') => (opts.ifaces ? (opts.ifaces.length ? `${dir} { ${opts.ifaces.map((i) => `"${i}"`).join(', ')} } ` : `${dir} "-" `) : '');
  const mark = (dir: 'iifname' | 'oifname', bridge = false) => `${set(dir)}${bridge ? `meta protocol ${t.family === 'ipv4' ? 'ip' : 'ip6'}` : nfproto} ${l4} meta nftrace set 1`;
  const witness = (chain: string, hook: string) => `  chain ${chain} { type filter hook ${hook} priority 350; }`;
  const out = [
    `table inet ${name} {`,
    `  chain pre { type filter hook prerouting priority -350; ${mark('iifname')}; }`,
    `  chain out { type filter hook output priority -350; ${mark('oifname')}; }`,
    witness('local_in', 'input'),
    witness('forward_', 'forward'),
    witness('post', 'postrouting'),
    '}',
  ];
  if (opts.bridge)
    out.push(
      `table bridge ${name} {`,
      `  chain pre { type filter hook prerouting priority -350; ${mark('iifname', true)}; }`,
      witness('local_in', 'input'),
      witness('forward_', 'forward'),
      witness('post', 'postrouting'),
      '}',
    );
  return `${out.join('\n')}\n`;
}

/** A packet's headers as a chain saw them (the `packet:` line of `nft monitor trace`). */
export interface Header {
  proto: string;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** TCP flags, as a reader names them: SYN, SYN-ACK, ACK, PSH-ACK, FIN-ACK, RST... */
  flags?: string;
  /** ICMP type, as nft names it: echo-request, destination-unreachable... */
  icmp?: string;
  icmpCode?: string;
  icmpId?: number;
  ipId?: number;
  len?: number;
  seq?: number;
  iif?: string;
  oif?: string;
}

export interface RuleHit {
  /** The rule as the kernel reports it (nft syntax; an iptables rule is shown translated). */
  rule: string;
  verdict: string;
  handle?: number;
  /** The same rule in iptables syntax (`-A CHAIN ...`), when iptables made it. */
  iptables?: string;
}

export interface Hop {
  ns: string;
  id: string;
  family: string;
  table: string;
  chain: string;
  /** The netfilter hook (a custom chain: the hook of the chain that jumped to it). */
  hook: string;
  /** The rules that matched, in nft form (all of them, not only the one that ended the chain). */
  rules: string[];
  hits: RuleHit[];
  /** The verdict that ended the chain ('' while it continues into a jump). */
  verdict: string;
  /** netlab's own tracing chain: a witness that the packet passed the hook. */
  own?: boolean;
  iif?: string;
  oif?: string;
  header?: Header;
  /** The packet mark when it entered and when it left the chain (absent: 0). */
  markIn?: string;
  markOut?: string;
}

export type Ending =
  | { kind: 'forwarded'; oif?: string }
  | { kind: 'sent'; oif?: string }
  | { kind: 'delivered' }
  | { kind: 'dropped'; hop: number; rule?: string; rejected: boolean }
  | { kind: 'routing' }
  | { kind: 'unknown' };

/** One packet's pass through one namespace. */
export interface Segment {
  ns: string;
  /** Its place in the namespace's monitor output (for ordering). */
  seq: number;
  /** Entered from outside (prerouting) or made here (output). */
  origin: 'in' | 'local';
  hops: Hop[];
  entry: Header;
  exit: Header;
  iif?: string;
  oif?: string;
  ending: Ending;
  /** The host whose namespace this is, in a trace across hosts. */
  host?: string;
}

const num = (re: RegExp, s: string): number | undefined => {
  const m = re.exec(s);
  return m ? Number(m[1]) : undefined;
};

function tcpFlags(v: string): string {
  let bits = 0;
  if (/^0x[0-9a-f]+$/i.test(v)) bits = Number.parseInt(v, 16);
  else for (const w of v.split(/[|\s]+/)) bits |= { fin: 1, syn: 2, rst: 4, psh: 8, ack: 16, urg: 32 }[w] ?? 0;
  const names = [
    [2, 'SYN'],
    [4, 'RST'],
    [8, 'PSH'],
    [1, 'FIN'],
    [16, 'ACK'],
  ] as const;
  return names
    .filter(([b]) => bits & b)
    .map(([, n]) => n)
    .join('-');
}

export function parseHeader(text: string): Header {
  const src = /\bip6? saddr (\S+)/.exec(text)?.[1] ?? '';
  const dst = /\bip6? daddr (\S+)/.exec(text)?.[1] ?? '';
  const l4 = /\b(tcp|udp) sport (\d+)/.exec(text);
  const icmp = /\bicmp(?:v6)? type (\S+)/.exec(text)?.[1];
  const h: Header = { proto: l4?.[1] ?? (icmp ? 'icmp' : (/\bip protocol (\S+)/.exec(text)?.[1] ?? '?')), src, dst };
  if (l4) {
    h.sport = Number(l4[2]);
    const d = num(/\b(?:tcp|udp) dport (\d+)/, text);
    if (d !== undefined) h.dport = d;
  }
  const flags = /\btcp flags == (\S+(?: \| \S+)*)/.exec(text)?.[1];
  if (flags) h.flags = tcpFlags(flags);
  if (icmp) {
    h.icmp = icmp;
    const code = /\bicmp(?:v6)? code (\S+)/.exec(text)?.[1];
    if (code && icmp !== 'echo-request' && icmp !== 'echo-reply') h.icmpCode = code;
    const id = num(/\bicmp(?:v6)? id (\d+)/, text);
    if (id !== undefined) h.icmpId = id;
    const seq = num(/\bicmp(?:v6)? sequence (\d+)/, text);
    if (seq !== undefined) h.seq = seq;
  }
  const ipId = num(/\bip id (\d+)/, text);
  if (ipId !== undefined) h.ipId = ipId;
  const len = num(/\bip6? (?:length|payload_length) (\d+)/, text);
  if (len !== undefined) h.len = len;
  const iif = /\biif "([^"]+)"/.exec(text)?.[1];
  const oif = /\boif "([^"]+)"/.exec(text)?.[1];
  if (iif) h.iif = iif;
  if (oif) h.oif = oif;
  return h;
}

const normMark = (m: string) => `0x${Number.parseInt(m, 16).toString(16)}`;

/** Removes counters and the handle from an nft rule as the monitor prints it. */
function cleanRule(r: string): { text: string; handle?: number } {
  const handle = num(/# handle (\d+)/, r);
  const text = r
    .replace(/# handle \d+/, '')
    .replace(/counter packets \d+ bytes \d+/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return handle === undefined ? { text } : { text, handle };
}

/**
 * `nft -a monitor trace` output of one namespace -> one segment per packet, in order. A packet
 * starts where netlab's first chain (pre, out) sees it; a trace id is reused by later packets, so a
 * packet that enters the first chain of a family again is a new one. `own` is the name of
 * netlab's trace table in that namespace (other traces running there are not ours).
 */
export function parseSegments(ns: string, text: string, own = TRACE_TABLE): Segment[] {
  const segs: Segment[] = [];
  const cur = new Map<string, Segment>();
  let seq = 0;
  for (const line of text.split('\n')) {
    const m = /^trace id (\S+) (ip|ip6|inet|bridge) (\S+) (\S+) (.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, family, table, chain, rest] = m as unknown as [string, string, string, string, string, string];
    const isOwn = table === own;
    let seg = cur.get(id);
    if (isOwn && rest.startsWith('packet:') && (chain === 'pre' || chain === 'out')) {
      let again = seg?.hops.some((h) => h.own && h.family === family && (h.chain === 'pre' || h.chain === 'out'));
      const header = parseHeader(rest);
      // Some kernels (Debian 12's 6.1) give the packet a new trace id (or a reused one) as the bridge
      // hands it to the IP stack: the open segment only the bridge saw so far, same IP id and length.
      if ((!seg || again) && family !== 'bridge') {
        const bridged = segs
          .slice(-20)
          .reverse()
          .find((c) => c.ending.kind !== 'dropped' && c.hops.length > 0 && c.hops.every((h) => h.family === 'bridge') && looseKey(c.exit) === looseKey(header));
        if (bridged) {
          seg = bridged;
          again = false;
          cur.set(id, seg);
        }
      }
      if (!seg || again || seg.ending.kind === 'dropped' || (family === 'bridge' && seg.hops.some((h) => h.family !== 'bridge'))) {
        seg = { ns, seq: seq++, origin: chain === 'out' ? 'local' : 'in', hops: [], entry: header, exit: header, ending: { kind: 'unknown' } };
        if (header.iif) seg.iif = header.iif;
        segs.push(seg);
        cur.set(id, seg);
      }
    }
    // A trace id is reused: a packet line that is not this segment's packet belongs to another.
    if (seg && rest.startsWith('packet:') && looseKey(parseHeader(rest)) !== looseKey(seg.exit)) seg = undefined;
    if (!seg && rest.startsWith('packet:')) {
      // The kernel at times gives a packet a new trace id within a namespace (after a bridge
      // hands it to the IP stack): the same packet, still open, with the same IP id and length.
      const k = looseKey(parseHeader(rest));
      seg = segs
        .slice(-20)
        .reverse()
        .find((c) => c.ending.kind !== 'dropped' && !c.hops.some((h) => h.own && h.family !== 'bridge' && h.chain === 'local_in') && looseKey(c.exit) === k);
      if (seg) cur.set(id, seg);
    }
    if (!seg) continue;
    let hop = seg.hops[seg.hops.length - 1];
    if (!hop || hop.id !== id || hop.table !== table || hop.chain !== chain || hop.family !== family || hop.verdict) {
      // A jump to a custom chain returns to its caller: the same hook, a new hop.
      hop = { ns, id, family, table, chain, hook: '', rules: [], hits: [], verdict: '', ...(isOwn ? { own: true } : {}) };
      hop.hook = isOwn ? (OWN_HOOK[chain] ?? '?') : hookOf(hop, seg.hops);
      seg.hops.push(hop);
    }
    if (rest.startsWith('packet:')) {
      const h = parseHeader(rest);
      hop.header = h;
      if (h.iif) hop.iif = h.iif;
      if (h.oif) hop.oif = h.oif;
      seg.exit = h;
    } else if (rest.startsWith('rule ')) {
      if (isOwn) continue; // netlab's own "meta nftrace set 1"
      const v = /\(verdict (\w+)(?: ([^)]*))?\)/.exec(rest);
      const { text, handle } = cleanRule(rest.slice(5).replace(/\(verdict [^)]*\).*$/, ''));
      // REJECT drops the packet (the kernel says drop) and answers it: say reject.
      const verdict = v ? (v[1] === 'drop' && /reject/i.test(text) ? 'reject' : v[2] ? `${v[1]} ${v[2]}` : v[1]!) : 'continue';
      hop.rules.push(text || '(an xt match nft cannot print, e.g. a comment)');
      hop.hits.push({ rule: text, verdict, ...(handle !== undefined ? { handle } : {}) });
      if (v && v[1] !== 'continue' && v[1] !== 'jump' && v[1] !== 'goto') hop.verdict = verdict;
    } else if (rest.startsWith('policy ')) {
      hop.verdict = `policy ${/^policy (\w+)/.exec(rest)![1]}`;
    } else if (rest.startsWith('verdict ')) {
      hop.verdict = /^verdict (\w+(?: \S+)?)/.exec(rest)![1]!.replace(/ meta$/, '');
    } else continue;
    // The kernel reports the mark where a chain ends by its policy or a verdict (absent: 0), not
    // after a rule's terminal verdict (finish() takes the next chain end's).
    const mk = /\bmeta mark (0x[0-9a-f]+)/.exec(rest)?.[1];
    if (rest.startsWith('policy ') || rest.startsWith('verdict ')) hop.markOut = mk ? normMark(mk) : '0x0';
    if (/^(drop|reject)/.test(hop.verdict) || hop.verdict === 'policy drop')
      seg.ending = {
        kind: 'dropped',
        hop: seg.hops.length - 1,
        rejected: hop.verdict === 'reject',
        ...(hop.hits.length && !/^policy/.test(hop.verdict) ? { rule: hop.hits[hop.hits.length - 1]!.rule } : {}),
      };
  }
  for (const s of segs) finish(s);
  return segs;
}

/** A packet's identity that NAT does not change (IPv4's id, the length, flags, ICMP type and sequence). */
const looseKey = (h: Header) => [h.proto, h.flags, h.icmp, h.seq, h.ipId, h.len].join('|');

/** The hook of a hop: its chain's, or for a custom chain the hook of the chain that jumped to it. */
function hookOf(h: Hop, before: Hop[]): string {
  if (HOOKS.includes(h.chain)) return h.chain;
  for (let k = before.length - 1; k >= 0; k--) if (before[k]!.family === h.family && before[k]!.table === h.table) return before[k]!.hook;
  return before.length ? before[before.length - 1]!.hook : '?';
}

/** Marks as they leave each chain; the exit interface; how the segment ended. */
function finish(s: Segment): void {
  let mark = '0x0';
  s.hops.forEach((h, i) => {
    if (mark !== '0x0') h.markIn = mark;
    else delete h.markIn;
    const later = s.hops.slice(i + 1).find((x) => x.markOut)?.markOut;
    if (!h.markOut && later) h.markOut = later;
    mark = h.markOut ?? mark;
  });
  const bridgeOut = s.hops.filter((h) => h.family === 'bridge' && h.oif).at(-1)?.oif;
  const ipPost = s.hops.filter((h) => h.family !== 'bridge' && h.hook === 'POSTROUTING' && h.oif).at(-1)?.oif;
  const oif = bridgeOut ?? ipPost ?? s.hops.filter((h) => h.oif).at(-1)?.oif;
  if (oif) s.oif = oif;
  if (s.ending.kind === 'dropped') return;
  if (s.hops.some((h) => h.own && h.family !== 'bridge' && h.chain === 'local_in')) s.ending = { kind: 'delivered' };
  else if (s.hops.some((h) => h.hook === 'POSTROUTING')) s.ending = s.origin === 'local' ? { kind: 'sent', ...(oif ? { oif } : {}) } : { kind: 'forwarded', ...(oif ? { oif } : {}) };
  else if (s.origin === 'in' && !s.hops.some((h) => h.hook === 'FORWARD' || h.hook === 'INPUT')) s.ending = { kind: 'routing' };
}

// ---------------------------------------------------------------------------------------------
// Following the connection.

/** The connection a header belongs to: its protocol and both ends, whichever way it travels. */
export function connKey(h: Header): string {
  const a = h.proto === 'icmp' ? `${h.src}` : `${h.src}:${h.sport ?? ''}`;
  const b = h.proto === 'icmp' ? `${h.dst}` : `${h.dst}:${h.dport ?? ''}`;
  return `${h.proto}|${[a, b].sort().join('|')}${h.proto === 'icmp' ? `|${h.icmpId ?? ''}` : ''}`;
}

/** The headers a segment showed, from entry to exit (NAT changes them on the way). */
const headersOf = (s: Segment): Header[] => [s.entry, ...s.hops.flatMap((h) => (h.header ? [h.header] : [])), s.exit];

const isIcmpError = (h: Header) => h.proto === 'icmp' && !!h.icmp && !/^echo-|^nd-|^router-|^mld/.test(h.icmp);

/**
 * The segments of the probe's connection: from the first packet the source sent to the target,
 * every segment that shares one of its (rewritten) address/port pairs, and ICMP errors sent to one
 * of its addresses. Other traffic seen in the lab's namespaces is left out.
 */
export function connectionSegments(all: Segment[], from: string, spec: TraceSpec): Segment[] {
  return connection(all, from, spec).segments;
}

/**
 * connectionSegments, with the connection's keys and addresses; given a seed (the keys and
 * addresses another host's segments showed), found from them instead of the source's first packet.
 */
export function connection(all: Segment[], from: string, spec: TraceSpec, seed?: { keys: string[]; addrs: string[] }): { segments: Segment[]; keys: string[]; addrs: string[] } {
  const first = all.find(
    (s) => s.ns === from && s.origin === 'local' && s.entry.dst === spec.to && s.entry.proto === spec.proto && (spec.proto === 'icmp' ? s.entry.icmp === 'echo-request' : s.entry.dport === spec.port),
  );
  if (!first && !seed) return { segments: [], keys: [], addrs: [] };
  const keys = new Set<string>(first ? [connKey(first.entry)] : seed!.keys);
  const chosen = new Set<Segment>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const s of all) {
      if (chosen.has(s)) continue;
      const hs = headersOf(s);
      if (!hs.some((h) => keys.has(connKey(h)))) continue;
      chosen.add(s);
      changed = true;
      for (const h of hs) keys.add(connKey(h));
    }
  }
  const addrs = new Set([...(seed?.addrs ?? []), ...[...chosen].flatMap((s) => headersOf(s).flatMap((h) => [h.src, h.dst]))]);
  for (const s of all) if (!chosen.has(s) && isIcmpError(s.entry) && addrs.has(s.entry.dst)) chosen.add(s);
  return { segments: all.filter((s) => chosen.has(s)), keys: [...keys], addrs: [...addrs] };
}

/** What identifies one packet on the wire, whatever namespace sees it (not the TTL, not the MACs). */
const wireKey = (h: Header) => [h.proto, h.src, h.dst, h.sport, h.dport, h.flags, h.icmp, h.icmpId, h.seq, h.ipId, h.len].join('|');

export interface Packet {
  n: number;
  /** SYN, SYN-ACK, ACK, echo request, echo reply, ICMP destination-unreachable... */
  label: string;
  /** request: from the probe's source towards the target; reply: back. */
  direction: 'request' | 'reply';
  segments: Segment[];
}

/**
 * A VXLAN tunnel of the lab as one of its ends sees it: a packet leaving through `iface` is
 * encapsulated (VNI, UDP to remote:port, from the host namespace's socket); one arriving there was
 * decapsulated. The peer's host and node when the lab knows them (a lab across hosts).
 */
export interface Tunnel {
  node: string;
  iface: string;
  vni: number;
  remote: string;
  local: string;
  port: number;
  host?: string;
  peerHost?: string;
  peerNode?: string;
}

/**
 * Where a segment's packet goes next: the namespace and interface at the other end of its exit
 * interface (absent when no traced namespace is there), and the tunnel when that interface is one.
 */
export type PeerOf = (ns: string, ifname: string) => { ns?: string; ifname?: string; tunnel?: Tunnel } | undefined;

const peerNames = (host?: string, node?: string) => {
  const names = [...(host ? [`host ${host}`] : []), ...(node ? [`node ${node}`] : [])];
  return names.length ? ` (${names.join(', ')})` : '';
};

/** What a packet leaving through a tunnel becomes. */
export const encapText = (t: Tunnel) => `encapsulated by ${t.node}'s ${t.iface}: VXLAN VNI ${t.vni}, UDP to ${t.remote}:${t.port}${peerNames(t.peerHost, t.peerNode)}`;
/** What a packet arriving through a tunnel was. */
export const decapText = (t: Tunnel) => `decapsulated by ${t.node}'s ${t.iface}: VXLAN VNI ${t.vni} from ${t.remote}${peerNames(t.peerHost, t.peerNode)}`;

/**
 * Joins the segments of one packet across namespaces: a packet leaves one namespace through an
 * interface and enters the namespace at its other end with the same headers. Packets are
 * numbered in the order the source namespace (then the others) saw them.
 */
export function packetsOf<S extends Segment>(segs: S[], from: string, peerOf: PeerOf, firstSrc?: string): (Omit<Packet, 'segments'> & { segments: S[] })[] {
  const used = new Set<S>();
  const chains: S[][] = [];
  const nextOf = (s: S): S | undefined => {
    if (!s.oif || (s.ending.kind !== 'forwarded' && s.ending.kind !== 'sent')) return undefined;
    const peer = peerOf(s.ns, s.oif);
    const key = wireKey(s.exit);
    return segs.find((t) => !used.has(t) && t !== s && t.origin === 'in' && wireKey(t.entry) === key && (!peer?.ns || (t.ns === peer.ns && (!t.iif || t.iif === peer.ifname))));
  };
  // Start from packets made in a namespace, then from any segment left (it came from outside the trace).
  const starts = [...segs.filter((s) => s.origin === 'local'), ...segs];
  for (const s0 of starts) {
    if (used.has(s0)) continue;
    const chain = [s0];
    used.add(s0);
    for (let s = nextOf(s0); s; s = nextOf(s)) {
      used.add(s);
      chain.push(s);
    }
    chains.push(chain);
  }
  // Order: by the source namespace's view where a packet passes it, else by its first namespace's.
  const pos = (c: Segment[]) => {
    const atFrom = c.find((s) => s.ns === from);
    return atFrom ? atFrom.seq : Number.POSITIVE_INFINITY;
  };
  chains.sort((a, b) => {
    const pa = pos(a);
    const pb = pos(b);
    if (pa !== pb) return pa - pb;
    const shared = a.find((s) => b.some((t) => t.ns === s.ns));
    if (shared) return shared.seq - b.find((t) => t.ns === shared.ns)!.seq;
    return a[0]!.seq - b[0]!.seq;
  });
  const src = firstSrc ?? chains[0]?.[0]?.entry.src;
  return chains.map((segments, i) => {
    const h = segments[0]!.entry;
    const direction = h.src === src ? 'request' : 'reply';
    return { n: i + 1, label: labelOf(h, direction), direction, segments };
  });
}

export function labelOf(h: Header, direction: 'request' | 'reply'): string {
  if (h.proto === 'tcp') return h.flags || 'TCP';
  if (h.proto === 'icmp') {
    if (h.icmp === 'echo-request') return 'echo request';
    if (h.icmp === 'echo-reply') return 'echo reply';
    return `ICMP ${h.icmp ?? ''}${h.icmpCode ? ` (${h.icmpCode})` : ''}`;
  }
  return direction === 'request' ? 'datagram' : 'reply datagram';
}

// ---------------------------------------------------------------------------------------------
// NAT rewrites, marks and endings.

export interface Rewrite {
  hop: number;
  kind: string;
  before: string;
  after: string;
}

const endpoint = (a: string, p?: number) => (p === undefined ? a : a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);

/**
 * Address rewrites within a segment, "before -> after", named by the rule that made them (DNAT,
 * SNAT, MASQUERADE, REDIRECT), or as conntrack's reverse NAT for a reply.
 */
export function rewritesOf(s: Segment): Rewrite[] {
  const out: Rewrite[] = [];
  let prev = s.entry;
  let prevHop = -1;
  s.hops.forEach((h, i) => {
    if (!h.header) return;
    const cur = h.header;
    const at = prevHop < 0 ? i : prevHop;
    const hits = prevHop < 0 ? [] : s.hops[prevHop]!.hits;
    const named = (re: RegExp, fallback: string) => {
      const r = hits.find((x) => re.test(x.rule) || re.test(x.iptables ?? ''));
      return r ? (/masquerade/i.test(r.rule) ? 'MASQUERADE' : /redirect/i.test(r.rule) ? 'REDIRECT' : fallback) : `${fallback} by conntrack (this connection's NAT)`;
    };
    if (cur.dst !== prev.dst || cur.dport !== prev.dport) out.push({ hop: at, kind: named(/dnat|redirect/i, 'DNAT'), before: endpoint(prev.dst, prev.dport), after: endpoint(cur.dst, cur.dport) });
    if (cur.src !== prev.src || cur.sport !== prev.sport) out.push({ hop: at, kind: named(/snat|masquerade/i, 'SNAT'), before: endpoint(prev.src, prev.sport), after: endpoint(cur.src, cur.sport) });
    prev = cur;
    prevHop = i;
  });
  return out;
}

/** A connection as `conntrack -L` shows it: the original tuple and the reply tuple (NAT shows as their difference). */
export interface Conntrack {
  original: string;
  reply: string;
  state?: string;
}

/** The first entry of `conntrack -L` output. */
export function parseConntrack(text: string): Conntrack | undefined {
  for (const line of text.split('\n')) {
    const kv = [...line.matchAll(/\b(src|dst|sport|dport|type|code|id)=(\S+)/g)].map((m) => `${m[1]}=${m[2]}`);
    const half = kv.findIndex((x, i) => i > 0 && x.startsWith('src='));
    if (half < 0) continue;
    const state = /^\S+\s+\d+\s+\d+\s+([A-Z_]+)\s/.exec(line)?.[1];
    return { original: kv.slice(0, half).join(' '), reply: kv.slice(half).join(' '), ...(state ? { state } : {}) };
  }
  return undefined;
}

export interface Routing {
  /** The command asked (`ip route get ...` in the namespace). */
  command: string;
  /** The kernel's answer (first line), or its error. */
  answer: string;
  ok: boolean;
  /** Why the kernel would not route it, in words (forwarding off, no route, rp_filter). */
  why?: string;
}

/** Bridged, not routed: the bridge family forwarded it, or br_netfilter showed it in and out of one bridge. */
export const bridged = (s: Segment): boolean =>
  s.hops.some((h) => (h.family === 'bridge' && h.own && h.chain === 'forward_') || (h.family !== 'bridge' && h.hook === 'FORWARD' && !!h.iif && h.iif === h.oif));

/** `ip route get` for the packet of a segment, as the kernel routed it there. */
export function routeQuery(s: Segment): string[] | undefined {
  if (bridged(s)) return undefined; // a bridge's forwarding database chose the port, not routing
  const pre = s.hops.filter((h) => h.hook === (s.origin === 'local' ? 'OUTPUT' : 'PREROUTING') && h.family !== 'bridge');
  const last = pre.at(-1);
  if (!last) return undefined;
  // The header as routing saw it: a local packet as its socket made it; an arriving one after the
  // last prerouting chain (DNAT done); with the mark it had then.
  const after = s.origin === 'local' ? s.entry : (s.hops[s.hops.indexOf(last) + 1]?.header ?? last.header ?? s.entry);
  const mark = last.markOut ?? last.markIn;
  const iif = s.origin === 'in' ? pre[0]!.iif : undefined;
  const l4 =
    after.proto === 'tcp' || after.proto === 'udp'
      ? ['ipproto', after.proto, ...(after.sport ? ['sport', String(after.sport)] : []), ...(after.dport ? ['dport', String(after.dport)] : [])]
      : after.proto === 'icmp'
        ? ['ipproto', after.src.includes(':') ? 'ipv6-icmp' : 'icmp']
        : [];
  return ['ip', 'route', 'get', after.dst, 'from', after.src, ...(iif ? ['iif', iif] : []), ...(mark && mark !== '0x0' ? ['mark', mark] : []), ...l4];
}

/** Explains an `ip route get` error: the kernel's errno, in words. */
export function routingWhy(err: string, dst: string, iif: string | undefined, forwarding: string | undefined): string {
  if (/Network is unreachable/.test(err)) return `no route to ${dst} in the routing tables the rules select`;
  if (/No route to host/.test(err))
    return forwarding === '0' && iif
      ? `forwarding is off on ${iif} (net.ipv${dst.includes(':') ? '6' : '4'}.conf.${iif}.forwarding = 0): the packet is not for this namespace and it does not route it`
      : `the route to ${dst} is unreachable`;
  if (/Invalid cross-device link/.test(err)) return `the reverse-path filter (rp_filter) rejected the source address on ${iif ?? 'the input interface'}`;
  if (/Invalid argument/.test(err)) return `a blackhole route (or an invalid source) for ${dst}`;
  if (/Permission denied/.test(err)) return `a prohibit route for ${dst}`;
  return err.trim();
}

export interface Outcome {
  result: 'delivered' | 'dropped' | 'rejected' | 'left' | 'encapsulated' | 'unseen';
  ns?: string;
  /** table/chain of the verdict, or 'routing'. */
  where?: string;
  text: string;
  /** The socket that got a delivered packet: protocol, address and the process, when ss names it. */
  socket?: string;
  /** encapsulated: the tunnel it left the namespace by. */
  tunnel?: Tunnel;
}

/** A packet's ending, in words (the last segment says it). */
export function endingOf(p: Packet, peerOf: PeerOf, routing?: Routing): Outcome {
  const s = p.segments[p.segments.length - 1]!;
  const e = s.ending;
  switch (e.kind) {
    case 'dropped': {
      const h = s.hops[e.hop]!;
      const hit = h.hits.at(-1);
      const rule = hit && !/^policy/.test(h.verdict) ? ` by rule: ${hit.iptables ?? hit.rule}${hit.iptables ? `  (nft: ${hit.rule})` : ''}` : ` by the chain's policy (${h.verdict})`;
      return { result: e.rejected ? 'rejected' : 'dropped', ns: s.ns, where: `${h.table}/${h.chain}`, text: `${e.rejected ? 'rejected' : 'dropped'} at ${h.table}/${h.chain} in ${s.ns}${rule}` };
    }
    case 'delivered':
      return { result: 'delivered', ns: s.ns, where: 'INPUT', text: `delivered locally in ${s.ns}` };
    case 'routing': {
      const why = routing
        ? routing.ok
          ? `the kernel's route is "${routing.answer}", yet the packet went no further (rp_filter, a martian address or a local-only route)`
          : `${routing.why} (${routing.command} says: ${routing.answer})`
        : 'it did not reach INPUT or FORWARD';
      return { result: 'dropped', ns: s.ns, where: 'routing', text: `dropped by routing in ${s.ns}: ${why}` };
    }
    case 'forwarded':
    case 'sent': {
      const peer = e.oif ? peerOf(s.ns, e.oif) : undefined;
      if (peer?.tunnel) {
        const far = peer.ns ? `; ${peer.ns} did not see it (lost on the underlay, or dropped before netfilter there)` : '';
        return { result: 'encapsulated', ns: s.ns, where: 'POSTROUTING', text: `${encapText(peer.tunnel)}${far}`, tunnel: peer.tunnel };
      }
      if (peer?.ns) return { result: 'left', ns: s.ns, where: 'POSTROUTING', text: `left ${s.ns} through ${e.oif} towards ${peer.ns}, which did not see it (dropped on the wire or before netfilter)` };
      return { result: 'left', ns: s.ns, where: 'POSTROUTING', text: `left the lab: ${s.ns} sent it out through ${e.oif ?? 'an interface'}, which has no lab namespace at its other end` };
    }
    default:
      return { result: 'left', ns: s.ns, text: `seen last in ${s.ns}; the trace does not show where it went` };
  }
}

// ---------------------------------------------------------------------------------------------
// Text.

const hdr = (h: Header) => `${endpoint(h.src, h.sport)} -> ${endpoint(h.dst, h.dport)}`;

/** The hops of a segment that show something: chains with rules, the verdict; netlab's own chains only as entry/exit. */
function hopLines(s: Segment, routing: Routing | undefined, conntrack?: Conntrack): string[] {
  const lines: string[] = [];
  const rw = rewritesOf(s);
  // A local packet is routed before OUTPUT; an arriving one after PREROUTING.
  const routeAt = s.origin === 'local' ? 0 : s.hops.findIndex((h) => h.hook !== 'PREROUTING' && h.family !== 'bridge');
  const routeLine = () => {
    if (!routing) return;
    lines.push(`    routing      ${routing.ok ? routing.answer : `no route: ${routing.why}`}`);
    lines.push(`                 (the kernel's answer for this packet: ${routing.command}${routing.ok ? '' : ` -> ${routing.answer}`})`);
  };
  s.hops.forEach((h, i) => {
    if (i === routeAt) routeLine();
    if (h.family === 'bridge' && h.own && h.chain === 'forward_') lines.push(`    bridge       ${h.iif ?? '?'} -> ${h.oif ?? '?'} (bridged in ${s.ns})`);
    if (!h.own) {
      const name = `${h.family === 'bridge' ? 'bridge ' : ''}${h.table}/${h.chain}`;
      const ended = h.verdict || 'continue';
      lines.push(`    ${h.hook.padEnd(12)} ${name.padEnd(22)} ${ended}`);
      for (const x of h.hits) {
        lines.push(`      rule ${x.iptables ?? (x.rule || '(a rule nft cannot print)')}${x.verdict !== 'continue' ? `  => ${x.verdict}` : ''}`);
        if (x.iptables && x.rule) lines.push(`        nft: ${x.rule}`);
      }
    }
    for (const r of rw.filter((r) => r.hop === i)) lines.push(`      ${r.kind}: ${r.before} -> ${r.after}`);
    if (conntrack && rw.length && i === rw.at(-1)!.hop) lines.push(`      conntrack -L: original ${conntrack.original}`, `                    reply    ${conntrack.reply}`);
    if (h.markOut !== undefined && (h.markIn ?? '0x0') !== h.markOut) lines.push(`      mark ${h.markIn ?? '0x0'} -> ${h.markOut}`);
  });
  if (routeAt < 0 && s.ending.kind === 'routing') routeLine();
  return lines;
}

function endingLine(s: Segment, p: Packet, peerOf: PeerOf, routing?: Routing): string {
  const e = s.ending;
  if (e.kind === 'forwarded' || e.kind === 'sent') {
    const peer = e.oif ? peerOf(s.ns, e.oif) : undefined;
    if (peer?.tunnel) return `    -> out ${e.oif}: ${encapText(peer.tunnel)}  ${hdr(s.exit)}`;
    return `    -> out ${e.oif ?? '?'}${peer?.ns ? ` to ${peer.ns}` : ' (leaves the lab)'}  ${hdr(s.exit)}`;
  }
  if (e.kind === 'delivered') return `    -> delivered locally in ${s.ns}`;
  return `    => ${endingOf({ ...p, segments: [s] }, peerOf, routing).text}`;
}

/** The tunnel a segment's packet left by, if it did. */
export function tunnelOut(s: Segment, peerOf: PeerOf): Tunnel | undefined {
  const e = s.ending;
  return (e.kind === 'forwarded' || e.kind === 'sent') && e.oif ? peerOf(s.ns, e.oif)?.tunnel : undefined;
}

/** Human-readable story: each packet, namespace by namespace, then the outcome. */
export function formatPackets(packets: (Omit<Packet, 'segments'> & { segments: (Segment & { routing?: Routing; conntrack?: Conntrack })[] })[], peerOf: PeerOf, outcome: Outcome): string[] {
  const lines: string[] = [];
  const shapes = new Map<string, number>();
  for (const p of packets) {
    const path = p.segments.map((s, i) => `${i ? (tunnelOut(p.segments[i - 1]!, peerOf) ? ` =[VXLAN ${tunnelOut(p.segments[i - 1]!, peerOf)!.vni}]=> ` : ' -> ') : ''}${s.ns}`).join('');
    const first = p.segments[0]!.entry;
    const shape = `${p.direction}|${p.segments
      .map(
        (s) =>
          `${s.ns}:${s.hops
            .filter((h) => !h.own)
            .map((h) => `${h.table}/${h.chain}=${h.verdict}`)
            .join(',')}:${rewritesOf(s)
            .map((r) => r.kind)
            .join(',')}:${s.ending.kind}`,
      )
      .join(';')}`;
    const same = shapes.get(shape);
    lines.push(`packet ${p.n}: ${p.label}${p.direction === 'reply' ? ' (reply)' : ''}  ${hdr(first)}   ${path}`);
    if (same !== undefined) {
      lines.push(`    same chains and ending as packet ${same}`);
      continue;
    }
    if (same === undefined) shapes.set(shape, p.n);
    for (const s of p.segments) {
      const dec = s.iif ? peerOf(s.ns, s.iif)?.tunnel : undefined;
      const where = [...(s.host ? [`host ${s.host}`] : []), ...(s.iif ? [`in: ${s.iif}`] : s.origin === 'local' ? ['sent from here'] : []), ...(dec ? [decapText(dec)] : [])];
      lines.push(`  ${s.ns}${where.length ? ` (${where.join(', ')})` : ''}`);
      const r = s.routing;
      lines.push(...hopLines(s, r, s.conntrack));
      lines.push(endingLine(s, p, peerOf, r));
    }
  }
  lines.push(`=> ${outcome.text}`);
  return lines;
}
