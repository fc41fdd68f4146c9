// ops/conntrack: a node's tracked connections, as `netlab conntrack` shows them (pure): the lines of
// `conntrack -L` parsed into the original and reply tuples, whether NAT rewrote them, and a table.
import { columns } from '../core/table.js';

/** One direction of a connection: addresses, and ports (tcp, udp, sctp) or type/code/id (icmp). */
export interface Tuple {
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  type?: number;
  code?: number;
  id?: number;
}

export interface Connection {
  /** tcp, udp, icmp, icmpv6, ... (igmp, gre, or "proto N" for what conntrack calls unknown). */
  proto: string;
  /** The IP protocol number. */
  protonum: number;
  /** Seconds until the entry expires. */
  timeout: number;
  /** TCP's state (ESTABLISHED, TIME_WAIT, ...); absent for the others. */
  state?: string;
  /** [ASSURED], [UNREPLIED], ... without the brackets. */
  flags: string[];
  original: Tuple;
  reply: Tuple;
  mark: number;
  zone?: number;
  /** What NAT changed: snat (the reply goes to another source), dnat (it comes from another destination). */
  nat: ('snat' | 'dnat')[];
}

/** Protocols conntrack tracks generically and prints as "unknown". */
const OTHER_PROTOS: Record<number, string> = { 2: 'igmp', 47: 'gre', 50: 'esp', 51: 'ah', 89: 'ospf', 112: 'vrrp' };

const NUMERIC = new Set(['sport', 'dport', 'type', 'code', 'id']);

/** `conntrack -L` output (one connection a line) -> connections; other lines are skipped. */
export function parseConntrack(text: string): Connection[] {
  const out: Connection[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words.length < 4 || !/^\d+$/.test(words[1]!) || !/^\d+$/.test(words[2]!)) continue;
    const protonum = Number(words[1]);
    const proto = words[0] === 'unknown' ? (OTHER_PROTOS[protonum] ?? `proto ${protonum}`) : words[0]!;
    const c: Connection = { proto, protonum, timeout: Number(words[2]), flags: [], original: { src: '', dst: '' }, reply: { src: '', dst: '' }, mark: 0, nat: [] };
    let tuple: Tuple | undefined;
    for (const w of words.slice(3)) {
      const flag = /^\[(\w+)\]$/.exec(w);
      if (flag) {
        c.flags.push(flag[1]!);
        continue;
      }
      const eq = w.indexOf('=');
      if (eq < 0) {
        if (!tuple && c.state === undefined) c.state = w;
        continue;
      }
      const k = w.slice(0, eq);
      const v = w.slice(eq + 1);
      if (k === 'src') tuple = tuple === undefined ? c.original : c.reply;
      if (k === 'mark') c.mark = Number(v);
      else if (k === 'zone') c.zone = Number(v);
      else if (tuple && (k === 'src' || k === 'dst')) tuple[k] = v;
      else if (tuple && NUMERIC.has(k)) tuple[k as 'sport'] = Number(v);
    }
    if (!c.original.src || !c.reply.src) continue;
    if (c.reply.dst !== c.original.src || (c.reply.dport ?? null) !== (c.original.sport ?? null)) c.nat.push('snat');
    if (c.reply.src !== c.original.dst || (c.reply.sport ?? null) !== (c.original.dport ?? null)) c.nat.push('dnat');
    out.push(c);
  }
  return out;
}

const hostPort = (a: string, port?: number) => (port === undefined ? a : a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`);

/** "src:port -> dst:port" (icmp: "src -> dst id N"). */
export function tupleText(t: Tuple): string {
  const id = t.id !== undefined && t.sport === undefined ? ` id ${t.id}` : '';
  return `${hostPort(t.src, t.sport)} -> ${hostPort(t.dst, t.dport)}${id}`;
}

/** The connections as a table: proto, state, original, reply, NAT, mark. */
export function formatConntrack(conns: Connection[]): string[] {
  const rows = [['proto', 'state', 'original', 'reply', 'nat', 'mark']];
  for (const c of conns) {
    const state = [c.state, ...c.flags.map((f) => f.toLowerCase())].filter(Boolean).join(' ') || '-';
    rows.push([c.proto, state, tupleText(c.original), tupleText(c.reply), c.nat.join('+') || '-', String(c.mark)]);
  }
  return columns(rows);
}
