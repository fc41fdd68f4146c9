// Parsers for the short forms users paste from articles: ip-route and ip-rule argument strings,
// iptables rule text, and sysctl keys. Each returns a value or a message; locating the message
// in the file is the caller's job.
import { ROUTE_TYPES as ROUTES } from '../model/types.js';

export interface RawRoute {
  to?: string;
  via?: string;
  dev?: string;
  type?: string;
  scope?: string;
  metric?: number;
  table?: number | string;
  src?: string;
  onlink?: boolean;
}

export interface RawRule {
  from?: string;
  to?: string;
  fwmark?: string | number;
  iif?: string;
  oif?: string;
  pref?: number;
  table?: number | string;
}

const ROUTE_TYPES = new Set<string>(ROUTES);
/** Types ip route knows that netlab does not manage. */
const OTHER_ROUTE_TYPES = new Set(['nat', 'anycast', 'multicast', 'broadcast']);
const ROUTE_KEYWORDS = new Set(['via', 'dev', 'src', 'scope', 'metric', 'preference', 'priority', 'table', 'onlink']);

function num(v: string): number | undefined {
  return /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : undefined;
}

/** "local default dev lo table 100" -> RawRoute. */
export function parseRouteString(text: string): RawRoute | string {
  const t = text.trim().split(/\s+/);
  const r: RawRoute = {};
  let i = 0;
  if (t[0] && ROUTE_TYPES.has(t[0])) r.type = t[i++];
  else if (t[0] && OTHER_ROUTE_TYPES.has(t[0])) return `route type '${t[0]}' is not supported (supported: ${[...ROUTE_TYPES].join(', ')})`;
  if (t[i] === 'to') i++;
  const dst = t[i++];
  if (!dst) return 'expected a destination ("default", an address or a prefix)';
  if (ROUTE_KEYWORDS.has(dst)) return `expected a destination ("default", an address or a prefix) before '${dst}'`;
  r.to = dst;
  while (i < t.length) {
    const k = t[i++]!;
    if (k === 'onlink') {
      r.onlink = true;
      continue;
    }
    const v = t[i++];
    if (v === undefined) return `'${k}' needs a value`;
    switch (k) {
      case 'via':
        r.via = v;
        break;
      case 'dev':
        r.dev = v;
        break;
      case 'src':
        r.src = v;
        break;
      case 'scope':
        r.scope = v;
        break;
      case 'metric':
      case 'preference':
      case 'priority': {
        const n = num(v);
        if (n === undefined) return `metric must be a number, got '${v}'`;
        r.metric = n;
        break;
      }
      case 'table': {
        r.table = num(v) ?? v;
        break;
      }
      default:
        if (k === 'gw' || k === 'gateway') return `unknown route keyword '${k}': ip route writes the gateway as 'via ${v}'`;
        return `unknown route keyword '${k}' (known: via, dev, src, scope, metric, table, onlink)`;
    }
  }
  return r;
}

/** "fwmark 0x1/0x1 pref 100 table 100" -> RawRule. */
export function parseRuleString(text: string): RawRule | string {
  const t = text.trim().split(/\s+/).filter(Boolean);
  const r: RawRule = {};
  let i = 0;
  while (i < t.length) {
    const k = t[i++]!;
    const v = t[i++];
    if (v === undefined) return `'${k}' needs a value`;
    switch (k) {
      case 'from':
        r.from = v;
        break;
      case 'to':
        r.to = v;
        break;
      case 'fwmark':
        r.fwmark = v;
        break;
      case 'iif':
        r.iif = v;
        break;
      case 'oif':
        r.oif = v;
        break;
      case 'pref':
      case 'priority':
      case 'preference': {
        const n = num(v);
        if (n === undefined) return `pref must be a number, got '${v}'`;
        r.pref = n;
        break;
      }
      case 'table':
      case 'lookup':
        r.table = num(v) ?? v;
        break;
      default:
        return `unknown rule keyword '${k}' (known: from, to, fwmark, iif, oif, pref, table)`;
    }
  }
  if (r.table === undefined) return "a rule needs 'table N' (the table to look up)";
  return r;
}

const TABLE_NAMES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };

/** Why tableId rejected a value: a message and a hint, for the caller to locate. */
export function tableProblem(v: number | string): { message: string; hint: string } {
  const range = 'use 1-252 or 256-4294967295, or main, local, default';
  if (typeof v === 'string') return { message: `unknown table '${v}'`, hint: `${range} (names from /etc/iproute2/rt_tables are not read)` };
  const name = TABLE_NAMES[v];
  if (name) return { message: `table ${v} is out of range: it is the ${name} table's number`, hint: `write 'table ${name}'` };
  return { message: `table ${v} is out of range`, hint: range };
}

/** Resolves a table name or number; undefined when out of range. */
export function tableId(v: number | string | undefined): number | undefined {
  if (v === undefined || v === 'main') return 254;
  if (v === 'local') return 255;
  if (v === 'default') return 253;
  if (typeof v === 'string') return undefined;
  if (!Number.isInteger(v) || v < 1 || v > 0xffffffff || v === 253 || v === 254 || v === 255) return undefined;
  return v;
}

/** "0x1/0x1", 1, "1" -> canonical "0x1/0x1" or "0x1"; undefined if malformed. */
export function canonicalMark(v: string | number): string | undefined {
  const s = String(v);
  const m = /^(0x[0-9a-f]+|\d+)(?:\/(0x[0-9a-f]+|\d+))?$/i.exec(s);
  if (!m) return undefined;
  const mark = Number(m[1]);
  const mask = m[2] === undefined ? undefined : Number(m[2]);
  if (mark > 0xffffffff || (mask !== undefined && mask > 0xffffffff)) return undefined;
  const hex = (n: number) => `0x${n.toString(16)}`;
  return mask === undefined || mask === 0xffffffff ? hex(mark) : `${hex(mark)}/${hex(mask)}`;
}

// ---------------------------------------------------------------------------------------------
// iptables

/** Targets iptables knows; anything else after -j/-g must be a chain of the same table. */
export const IPT_TARGETS = new Set(
  (
    'ACCEPT DROP REJECT RETURN LOG NFLOG QUEUE NFQUEUE MASQUERADE SNAT DNAT REDIRECT NETMAP MARK CONNMARK ' +
    'TPROXY TRACE NOTRACK CT CLASSIFY TOS TTL HL DSCP ECN TCPMSS CHECKSUM SECMARK CONNSECMARK AUDIT SET ' +
    'LED IDLETIMER TEE SYNPROXY HMARK RATEEST TCPOPTSTRIP DNPT SNPT'
  ).split(' '),
);

const COMMAND_OPTS = new Set([
  '-A',
  '--append',
  '-I',
  '--insert',
  '-D',
  '--delete',
  '-R',
  '--replace',
  '-N',
  '--new-chain',
  '--new',
  '-X',
  '--delete-chain',
  '-F',
  '--flush',
  '-P',
  '--policy',
  '-E',
  '--rename-chain',
  '-Z',
  '--zero',
  '-L',
  '--list',
  '-S',
  '--list-rules',
  '-t',
  '--table',
  '-C',
  '--check',
  '-h',
  '--help',
  '-V',
  '--version',
  '-M',
  '--modprobe',
]);

/**
 * Splits rule text the way iptables-restore does (xshared.c add_param_to_argv): on spaces and tabs,
 * with "double quotes" (inside which a backslash escapes the next character); a closing quote ends
 * the word. Single quotes are ordinary characters to iptables-restore, which would keep them in the
 * rule: that is refused here, since it is never what the writer meant.
 */
export function tokenize(text: string): string[] | string {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let escaped = false;
  for (const ch of text) {
    if (quoted) {
      if (escaped) {
        cur += ch;
        escaped = false;
      } else if (ch === '\\') escaped = true;
      else if (ch === '"') {
        quoted = false;
        out.push(cur);
        cur = '';
      } else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === "'") return 'iptables-restore does not treat single quotes as quotes: use double quotes';
    else if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quoted) return 'unterminated " quote';
  if (cur) out.push(cur);
  return out;
}

export interface RuleCheck {
  tokens: string[];
  /** Target or goto chain named by the rule, if any. */
  target?: string;
}

/**
 * Checks that rule text is one iptables rule body: no command options (the chain and table come
 * from the file's structure), no restore-file syntax, nothing but printable text on one line.
 */
export function checkIptablesRule(text: string): RuleCheck | string {
  if (/[\r\n\0]/.test(text)) return 'a rule must be one line';
  if (/[^\x20-\x7e]/.test(text)) return 'a rule may contain only printable ASCII characters';
  const tokens = tokenize(text);
  if (typeof tokens === 'string') return tokens;
  if (tokens.length === 0) return 'empty rule';
  const first = tokens[0]!;
  if (first === 'COMMIT' || first.startsWith('*') || first.startsWith(':') || first.startsWith('#')) return `'${first}' is iptables-restore syntax; write only the rule, e.g. "-s 10.0.0.1 -j DROP"`;
  if (!first.startsWith('-') && first !== '!') return `a rule starts with an option such as -s, -p or -j, not '${first}'`;
  let target: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    const long = /^(--[a-z-]+)=/.exec(tok)?.[1];
    if (COMMAND_OPTS.has(tok) || (long !== undefined && COMMAND_OPTS.has(long)) || (/^-[AIDRNXFPEZLSCt]\S/.test(tok) && tok.length <= 3) || /^-t./.test(tok))
      return `'${tok}' is an iptables command option; the table and chain come from where the rule is written`;
    // iptables-restore refuses any word it could take for -t (-vt) or --table (--tab), quoted or not.
    if ((/^-[^-]/.test(tok) && tok.includes('t')) || (tok.length > 2 && '--table'.startsWith(tok))) return `iptables-restore would read '${tok}' as the -t (table) option, which a rule cannot use`;
    if (tok === 'COMMIT') return "'COMMIT' is not allowed in a rule";
    if (tok === '-j' || tok === '--jump' || tok === '-g' || tok === '--goto') {
      const t = tokens[i + 1];
      if (!t) return `'${tok}' needs a target`;
      target = t;
      continue;
    }
    // Glued forms getopt accepts: -jDROP, --jump=DROP.
    const glued = /^-[jg](\S+)$/.exec(tok)?.[1] ?? /^--(?:jump|goto)=(\S+)$/.exec(tok)?.[1];
    if (glued !== undefined) target = glued;
  }
  return { tokens, ...(target ? { target } : {}) };
}

/** Quotes a token for an iptables-restore line (the same quoting tokenize undoes). */
export function quoteToken(tok: string): string {
  return /^[A-Za-z0-9_./:,=+@%!-]+$/.test(tok) ? tok : `"${tok.replace(/["\\]/g, '\\$&')}"`;
}

// ---------------------------------------------------------------------------------------------
// sysctl

export interface SysctlKey {
  /** Canonical slash path under /proc/sys, e.g. net/ipv4/conf/tap1/proxy_arp. */
  path: string;
  /** Interface named by a per-interface key (conf/neigh), if any: a name, all or default. */
  iface?: string;
}

/**
 * A sysctl key by its shape alone: which settings exist depends on the kernel and on the network
 * namespace (net.ipv4.neigh.default.* and most of net.core.* exist only in the initial one), so
 * whether the file exists is for apply to find out, in the namespace it writes to. What the shape
 * tells: every top-level entry of /proc/sys is a directory, conf and neigh hold one directory per
 * interface (conf has all and default, neigh only default), and a setting is a file in one of them.
 */
export function parseSysctlKey(key: string): SysctlKey | string {
  if (!/^[A-Za-z0-9_./-]+$/.test(key)) return 'a sysctl key has only letters, digits, _ - . and /';
  const parts = key.includes('/') ? key.split('/') : key.split('.');
  if (parts.some((p) => p === '' || p === '..' || p === '.')) return 'malformed sysctl key';
  if (parts.length < 2) return `/proc/sys/${parts[0]} is a directory: name a setting in it, e.g. net.ipv4.ip_forward`;
  if (parts[0] !== 'net' || (parts[2] !== 'conf' && parts[2] !== 'neigh') || parts.length < 4) return { path: parts.join('/') };
  // net.<family>.conf|neigh.<iface>.<leaf>; in dot form an interface name may itself have dots.
  const dir = parts.slice(0, 3).join('/');
  const iface = key.includes('/') ? parts[3]! : parts.slice(3, -1).join('.');
  const leaf = key.includes('/') ? parts.slice(4).join('/') : parts[parts.length - 1]!;
  if (!iface || !leaf)
    return `/proc/sys/${dir}/${parts[3]} is a directory: name a setting in it, e.g. ${parts.slice(0, 3).join('.')}.${parts[3]}.${parts[2] === 'conf' ? 'forwarding' : 'proxy_delay'}`;
  if (parts[2] === 'neigh' && iface === 'all') return `${parts.slice(0, 3).join('.')} has no 'all': name an interface, or default`;
  return { path: `${dir}/${iface}/${leaf}`, iface };
}

/** How sysctl(8) names a key: dots, except when an interface name has a dot (then slashes). */
export function sysctlDisplay(path: string): string {
  const parts = path.split('/');
  return parts.some((p) => p.includes('.')) ? path : parts.join('.');
}
