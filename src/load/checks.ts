// Normalizes `checks:` and `nodes.*.processes` (called by the loader once links are known).
import type { CheckSpec, Family, ProcessSpec, SrcPath } from '../model/types.js';
import { parseAddress } from '../model/net.js';
import { didYouMean } from './problems.js';
import type { RawCheck, RawProcess } from './raw.js';

/** The body of one kind of check, as the schema admits it. */
type Body<K extends string> = Extract<RawCheck, Record<K, unknown>>[K];
/** What every kind of check takes. */
type RawCheckCommon = Pick<Body<'ping'>, 'expect' | 'timeout' | 'attempts' | 'name' | 'why'>;

export interface CheckContext {
  nodes: string[];
  /** Addresses of a node's interfaces, in declaration order: [iface, addr (no prefix), family]. */
  addresses(node: string): { iface: string; addr: string; family: Family }[];
  err(path: SrcPath, message: string, hint?: string): void;
}

/** "2s", "500ms", 1500 -> milliseconds. */
export function durationMs(v: number | string | undefined, dflt: number): number | undefined {
  if (v === undefined) return dflt;
  if (typeof v === 'number') return v > 0 ? v : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s)$/.exec(v.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : 1));
}

function target(ctx: CheckContext, to: string, family: Family | undefined, path: SrcPath): { addr: string; family: Family } | undefined {
  const a = parseAddress(to);
  if (a) {
    if (family && a.family !== family) ctx.err(path, `${to} is not an ${family} address`);
    return a;
  }
  const [node, iface] = to.split(':') as [string, string | undefined];
  if (!ctx.nodes.includes(node)) {
    ctx.err(path, `'${to}' is neither an address nor a node`, didYouMean(node, ctx.nodes) ?? 'write an address (192.168.20.2), a node (ns2) or NODE:IFACE (ns2:tap2)');
    return undefined;
  }
  const addrs = ctx.addresses(node).filter((x) => (!iface || x.iface === iface) && (!family || x.family === family));
  const pick = addrs.find((x) => x.family === 'ipv4' && !family) ?? addrs[0];
  if (!pick) {
    ctx.err(path, `node '${node}' has no ${family ?? ''}${family ? ' ' : ''}address${iface ? ` on ${iface}` : ''} to check against`.replace('  ', ' '));
    return undefined;
  }
  return { addr: pick.addr, family: pick.family };
}

/** The longest timeout a timer can hold: 2^31-1 ms (about 24.8 days); Node fires longer ones at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function common(ctx: CheckContext, c: RawCheckCommon, path: SrcPath, defaults: { timeout: number }) {
  let timeoutMs = durationMs(c.timeout, defaults.timeout);
  if (timeoutMs === undefined) ctx.err([...path, 'timeout'], `invalid timeout '${String(c.timeout)}'`, "write milliseconds (1500) or a duration ('2s', '500ms')");
  else if (timeoutMs > MAX_TIMEOUT_MS) {
    ctx.err([...path, 'timeout'], `timeout ${String(c.timeout)} is too long: at most ${MAX_TIMEOUT_MS} ms (about 24 days)`, "a check's timeout bounds one attempt, e.g. '5s'");
    timeoutMs = undefined;
  }
  return { expect: c.expect ?? 'ok', timeoutMs: timeoutMs ?? defaults.timeout, attempts: c.attempts ?? 3, ...(c.why !== undefined ? { why: c.why } : {}) } as const;
}

function fromNode(ctx: CheckContext, node: string, path: SrcPath): boolean {
  if (ctx.nodes.includes(node)) return true;
  ctx.err(path, `no node named '${node}'`, didYouMean(node, ctx.nodes) ?? 'checks run inside a node');
  return false;
}

/** `checks:` (or a step's `expect:`, at `base`) as CheckSpecs. */
export function normalizeChecks(ctx: CheckContext, raw: RawCheck[], base: SrcPath = ['checks']): CheckSpec[] {
  const out: CheckSpec[] = [];
  let matrix = 0;
  raw.forEach((entry, i) => {
    const path: SrcPath = [...base, i];
    const kind = Object.keys(entry)[0] as string;
    const p = [...path, kind];
    if ('ping' in entry) {
      const c = entry.ping;
      if (!fromNode(ctx, c.from, [...p, 'from'])) return;
      const t = target(ctx, c.to, c.family, [...p, 'to']);
      if (!t) return;
      out.push({
        kind: 'ping',
        from: c.from,
        to: t.addr,
        family: t.family,
        count: c.count ?? 1,
        ...(c.source ? { source: c.source } : {}),
        label: c.name ?? `ping ${c.from} -> ${c.to}`,
        ...common(ctx, c, p, { timeout: 1000 }),
        path: p,
      });
    } else if ('tcp' in entry || 'udp' in entry) {
      const proto = 'tcp' in entry ? 'tcp' : 'udp';
      const c = 'tcp' in entry ? entry.tcp : entry.udp;
      if (!fromNode(ctx, c.from, [...p, 'from'])) return;
      const t = target(ctx, c.to, c.family, [...p, 'to']);
      if (!t) return;
      out.push({ kind: proto, from: c.from, to: t.addr, port: c.port, family: t.family, label: c.name ?? `${proto} ${c.from} -> ${c.to}:${c.port}`, ...common(ctx, c, p, { timeout: 2000 }), path: p });
    } else if ('trace' in entry) {
      const c = entry.trace;
      if (!fromNode(ctx, c.from, [...p, 'from'])) return;
      const t = target(ctx, c.to, undefined, [...p, 'to']);
      if (!t) return;
      const proto = c.proto ?? 'icmp';
      if (proto !== 'icmp' && !c.port) return ctx.err(p, `a ${proto} trace needs a port`);
      (c.passes ?? []).forEach((h, k) => {
        if (!/^([A-Za-z0-9_.-]+:)?(raw|mangle|nat|filter|security)\/[A-Za-z0-9_.-]+$/.test(h))
          ctx.err([...p, 'passes', k], `'${h}' is not TABLE/CHAIN or NODE:TABLE/CHAIN`, "e.g. 'mangle/PREROUTING' or 'proxy:nat/PREROUTING'");
      });
      out.push({
        kind: 'trace',
        from: c.from,
        to: t.addr,
        proto,
        ...(c.port ? { port: c.port } : {}),
        passes: c.passes ?? [],
        ...(c.result ? { result: c.result } : {}),
        label: c.name ?? `trace ${c.from} -> ${c.to}${c.port ? `:${c.port}` : ''}`,
        ...common(ctx, c, p, { timeout: 5000 }),
        attempts: 1,
        path: p,
      });
    } else if ('exec' in entry) {
      const c = entry.exec;
      if (!fromNode(ctx, c.node, [...p, 'node'])) return;
      const command = typeof c.command === 'string' ? ['sh', '-c', c.command] : c.command;
      if (c.output !== undefined) {
        try {
          new RegExp(c.output);
        } catch (e) {
          ctx.err([...p, 'output'], `invalid regular expression: ${(e as Error).message}`);
          return;
        }
      }
      const label = c.name ?? `exec ${c.node}: ${typeof c.command === 'string' ? c.command : c.command.join(' ')}`;
      out.push({
        kind: 'exec',
        from: c.node,
        command,
        ...(c.exit_code !== undefined ? { exitCode: c.exit_code } : {}),
        ...(c.output !== undefined ? { output: c.output } : {}),
        label,
        ...common(ctx, c, p, { timeout: 5000 }),
        attempts: c.attempts ?? 1,
        path: p,
      });
    } else if ('reach' in entry) {
      const c = entry.reach;
      const from = c.from ?? c.nodes ?? [];
      const to = c.to ?? c.nodes ?? [];
      if (!from.length || !to.length) {
        ctx.err(p, "reach needs 'nodes' (every node reaches every other) or 'from' and 'to'");
        return;
      }
      const bad = [...from, ...to].filter((n) => !ctx.nodes.includes(n));
      if (bad.length) {
        ctx.err(p, `no node named '${bad[0]}'`, didYouMean(bad[0]!, ctx.nodes));
        return;
      }
      const id = matrix++;
      const cm = common(ctx, c, p, { timeout: 1000 });
      for (const f of from) {
        for (const t of to) {
          if (f === t) continue;
          const tg = target(ctx, t, c.family, p);
          if (!tg) return;
          out.push({ kind: 'ping', from: f, to: tg.addr, family: tg.family, count: 1, label: `ping ${f} -> ${t}`, ...cm, matrix: { id, from: f, to: t }, path: p });
        }
      }
    }
  });
  return out;
}

export function normalizeProcesses(node: string, raw: RawProcess[], err: CheckContext['err'], base: SrcPath): ProcessSpec[] {
  const out: ProcessSpec[] = [];
  const names = new Set<string>();
  raw.forEach((r, i) => {
    const path = [...base, i];
    const obj = typeof r === 'object' && !Array.isArray(r) ? r : { command: r };
    const argv = typeof obj.command === 'string' ? ['sh', '-c', obj.command] : obj.command;
    if (argv.length === 0 || argv.some((a) => a.includes('\0'))) return err(path, 'a process needs a command');
    const first = (typeof obj.command === 'string' ? obj.command.trim().split(/\s+/)[0]! : argv[0]!).split('/').pop()!;
    let name = obj.name ?? first.replace(/[^A-Za-z0-9_.-]/g, '') ?? `p${i}`;
    if (!obj.name && names.has(name)) name = `${name}-${i}`;
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/.test(name)) return err([...path, 'name'], `invalid process name '${name}'`, 'letters, digits, _ . and -');
    if (names.has(name)) return err([...path, 'name'], `process name '${name}' is used twice in node '${node}'`);
    names.add(name);
    out.push({ node, name, argv, path });
  });
  return out;
}
