// Address and prefix arithmetic, on ipaddr.js.
import ipaddr from 'ipaddr.js';
import type { Family } from './types.js';

export interface Cidr {
  family: Family;
  /** Canonical address text (IPv6 in RFC 5952 form). */
  addr: string;
  len: number;
  /** Canonical "addr/len". */
  text: string;
}

function canonical(a: ipaddr.IPv4 | ipaddr.IPv6): string {
  return a.kind() === 'ipv6' ? (a as ipaddr.IPv6).toRFC5952String() : a.toString();
}

/** Parses a plain address, strictly (IPv4 must be dotted quad). */
export function parseAddress(text: string): { family: Family; addr: string } | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return { family: 'ipv4', addr: ipaddr.IPv4.parse(text).toString() };
  // No zone index (fe80::1%eth0): ip(8) takes the interface from 'dev', and an address with one
  // would never compare equal to what the kernel reports.
  if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) return { family: 'ipv6', addr: canonical(ipaddr.IPv6.parse(text)) };
  return undefined;
}

/** Parses "addr/len" strictly. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const a = parseAddress(m[1]!);
  const len = Number(m[2]);
  if (!a || len > (a.family === 'ipv4' ? 32 : 128)) return undefined;
  return { ...a, len, text: `${a.addr}/${len}` };
}

/** Parses a route destination: "default", an address (a host route) or a prefix. */
export function parsePrefix(text: string, family?: Family): Cidr | undefined {
  if (text === 'default') {
    const f = family ?? 'ipv4';
    return f === 'ipv4' ? { family: f, addr: '0.0.0.0', len: 0, text: '0.0.0.0/0' } : { family: f, addr: '::', len: 0, text: '::/0' };
  }
  if (!text.includes('/')) {
    const a = parseAddress(text);
    if (!a) return undefined;
    const len = a.family === 'ipv4' ? 32 : 128;
    return { ...a, len, text: `${a.addr}/${len}` };
  }
  return parseCidr(text);
}

export function networkOf(c: Cidr): string {
  const net = c.family === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(c.text) : ipaddr.IPv6.networkAddressFromCIDR(c.text);
  return canonical(net);
}

export function hasHostBits(c: Cidr): boolean {
  return networkOf(c) !== c.addr;
}

export function contains(net: Cidr, addr: string): boolean {
  const a = ipaddr.parse(addr);
  if (a.kind() !== (net.family === 'ipv4' ? 'ipv4' : 'ipv6')) return false;
  return a.match(ipaddr.parse(net.addr), net.len);
}

/** How ip(8) prints a prefix in JSON: "default" for /0, a bare address for host routes. */
export function ipJsonDst(c: Cidr): string {
  if (c.len === 0) return 'default';
  return c.len === (c.family === 'ipv4' ? 32 : 128) ? c.addr : c.text;
}

export function isLinkLocal6(addr: string): boolean {
  // fe80::/10: the first group is fe80-febf, in full. Anything else needs no parsing.
  if (!/^fe[89ab][0-9a-f]:/i.test(addr)) return false;
  const a = parseAddress(addr);
  return !!a && a.family === 'ipv6' && contains({ family: 'ipv6', addr: 'fe80::', len: 10, text: 'fe80::/10' }, a.addr);
}
