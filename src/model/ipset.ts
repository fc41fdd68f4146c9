// model/ipset: the ipset vocabulary (pure): members in the form `ipset save` prints them, what a
// save says, and which sets an iptables rule names.
import { parseAddress, parseCidr, networkOf } from './net.js';
import type { Family, IpsetState, IpsetType } from './types.js';

/** ipset's name for a family. */
export const inetOf = (f: Family): string => (f === 'ipv4' ? 'inet' : 'inet6');

/** How many dimensions (src/dst flags) a set type matches on. */
export function dimensionOf(type: string): number {
  return type.split(':')[1]?.split(',').length ?? 1;
}

export const PORT_PROTOCOLS = ['tcp', 'udp', 'sctp', 'udplite'];

export type MemberCheck = { value: string; family: Family } | { error: string; hint: string };

const fullLen = (f: Family) => (f === 'ipv4' ? 32 : 128);

/** An address or prefix as ipset prints a hash:net member: the network, bare when it is one host. */
function netMember(text: string): MemberCheck {
  const bare = parseAddress(text);
  if (bare) return { value: bare.addr, family: bare.family };
  const c = parseCidr(text);
  if (!c) return { error: `'${text}' is not an address or a network`, hint: 'write a network such as 10.65.0.0/16, or an address' };
  if (c.len === 0) return { error: `'${text}': hash:net cannot hold a /0`, hint: 'split it, e.g. 0.0.0.0/1 and 128.0.0.0/1' };
  if (networkOf(c) !== c.addr) return { error: `'${text}' has host bits set`, hint: `did you mean ${networkOf(c)}/${c.len}?` };
  return { value: c.len === fullLen(c.family) ? c.addr : c.text, family: c.family };
}

function ipMember(text: string): MemberCheck {
  const c = parseCidr(text);
  const a = c && c.len === fullLen(c.family) ? { addr: c.addr, family: c.family } : parseAddress(text);
  if (a) return { value: a.addr, family: a.family };
  if (c) return { error: `'${text}' is a network: a hash:ip set holds single addresses`, hint: 'use type hash:net for networks' };
  return { error: `'${text}' is not an address`, hint: 'write one address, e.g. 10.65.1.10' };
}

function ipPortMember(text: string): MemberCheck {
  const m = /^([^,]+),(?:([a-z]+):)?(\d+)$/.exec(text);
  if (!m) return { error: `'${text}' is not ADDRESS,PORT`, hint: 'write e.g. 10.65.1.10,8080 or 10.65.1.10,udp:53 (one port, a number)' };
  const a = ipMember(m[1]!);
  if ('error' in a) return a;
  const proto = m[2] ?? 'tcp';
  if (!PORT_PROTOCOLS.includes(proto)) return { error: `unknown protocol '${proto}' in '${text}'`, hint: `one of ${PORT_PROTOCOLS.join(', ')}` };
  const port = Number(m[3]);
  if (port > 65535) return { error: `port ${port} in '${text}' is out of range`, hint: 'a port is 0-65535' };
  // ipset prints an IPv6 address,port pair the same way: the address, a comma, PROTO:PORT.
  return { value: `${a.value},${proto}:${port}`, family: a.family };
}

/** Checks one member for a set type; returns it as `ipset save` would print it. */
export function canonicalMember(type: IpsetType, text: string): MemberCheck {
  switch (type) {
    case 'hash:net':
      return netMember(text);
    case 'hash:ip':
      return ipMember(text);
    case 'hash:ip,port':
      return ipPortMember(text);
  }
}

/** The sets in `ipset save` output, by name. */
export function parseIpsetSave(text: string): Map<string, IpsetState> {
  const out = new Map<string, IpsetState>();
  for (const line of text.split('\n')) {
    const t = line.trim().split(/\s+/);
    if (t[0] === 'create' && t[1] && t[2]) {
      const fi = t.indexOf('family');
      out.set(t[1], { name: t[1], type: t[2], family: t[fi + 1] === 'inet6' && fi > 0 ? 'ipv6' : 'ipv4', members: [] });
    } else if (t[0] === 'add' && t[1] && t[2]) out.get(t[1])?.members.push(t[2]);
  }
  for (const s of out.values()) s.members.sort();
  return out;
}

/** Options through which an iptables rule names a set: the set name is the next word. */
export const SET_OPTIONS = ['--match-set', '--add-set', '--del-set', '--map-set'];

/** The sets a rule names, each with the word after the name (the match's src/dst flags). */
export function setsOf(tokens: string[]): { name: string; flags?: string; at: number }[] {
  const out: { name: string; flags?: string; at: number }[] = [];
  tokens.forEach((tok, i) => {
    if (!SET_OPTIONS.includes(tok) || tokens[i + 1] === undefined) return;
    const flags = tokens[i + 2];
    out.push({ name: tokens[i + 1]!, ...(flags !== undefined ? { flags } : {}), at: i });
  });
  return out;
}

/** Whether a rule line (as iptables-save prints it) names one of the sets. */
export function ruleNamesSet(line: string, names: Set<string>): boolean {
  return setsOf(line.split(/\s+/)).some((s) => names.has(s.name));
}

/**
 * A table as the kernel has it (normalized iptables-save text) without the rules that name these
 * sets: restored before the sets are re-created, since the kernel refuses to destroy a set in use.
 */
export function withoutSetRules(table: string, saved: string, names: Set<string>): string {
  const lines = saved.split('\n').filter((l) => l && !(l.startsWith('-A ') && ruleNamesSet(l, names)));
  return [`*${table}`, ...lines, 'COMMIT', ''].join('\n');
}

export function sameSetKind(a: IpsetState, b: IpsetState): boolean {
  return a.type === b.type && a.family === b.family;
}
