// Link impairments: the lab's units (100ms, 1%, 10mbit) <-> canonical numbers <-> tc's words.
// Pure. netem does delay, jitter, loss (and rate, limit with them); a rate alone is a tbf.
import type { Impairment, QdiscState } from './types.js';

export interface RawImpair {
  delay?: string;
  jitter?: string;
  loss?: string | number;
  rate?: string;
  limit?: number;
}

const TIME_US: Record<string, number> = { us: 1, ms: 1000, s: 1_000_000 };
const RATE_BIT: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, tbit: 1e12, bps: 8, kbps: 8e3, mbps: 8e6, gbps: 8e9, tbps: 8e12 };

export interface ImpairProblem {
  field: keyof RawImpair;
  message: string;
  hint: string;
}

/** Raw impairment values (lab file or command line) -> canonical numbers, or what is wrong with them. */
export function checkImpairment(raw: RawImpair): { impair?: Impairment; problems: ImpairProblem[] } {
  const problems: ImpairProblem[] = [];
  const i: Impairment = {};
  const parse = <K extends 'delay' | 'jitter' | 'rate'>(k: K, f: (s: string) => number | undefined, eg: string) => {
    if (raw[k] === undefined) return;
    const v = f(raw[k]!);
    if (v === undefined) problems.push({ field: k, message: `invalid ${k} '${raw[k]}'`, hint: `e.g. ${k}: ${eg}` });
    else i[k] = v;
  };
  parse('delay', parseDuration, '100ms');
  parse('jitter', parseDuration, '10ms');
  parse('rate', parseRate, '10mbit');
  if (raw.loss !== undefined) {
    const l = parsePercent(raw.loss);
    if (l === undefined || l > 100) problems.push({ field: 'loss', message: `loss ${String(raw.loss)} is not a percentage from 0 to 100`, hint: 'e.g. loss: 1% or loss: 0.5%' });
    else i.loss = l;
  }
  if (raw.limit !== undefined) {
    if (!Number.isInteger(raw.limit) || raw.limit < 1) problems.push({ field: 'limit', message: `limit ${raw.limit} is not a queue length`, hint: 'a whole number of packets, e.g. limit: 1000' });
    else i.limit = raw.limit;
  }
  if (i.jitter && !i.delay) problems.push({ field: 'jitter', message: 'jitter needs a delay', hint: 'netem varies the delay by the jitter: add e.g. delay: 100ms' });
  if (i.jitter && i.delay && i.jitter > i.delay)
    problems.push({ field: 'jitter', message: `jitter ${raw.jitter} is larger than the delay ${raw.delay}`, hint: 'netem would reorder packets and clamp at zero: keep jitter at most the delay' });
  if (i.rate === 0) problems.push({ field: 'rate', message: 'a rate of 0 would stop all traffic', hint: 'to cut a link, set the interface down (up: false) or use loss: 100%' });
  if (problems.length) return { problems };
  return { ...(Object.values(i).some(Boolean) ? { impair: i } : {}), problems };
}

/** "100ms" -> 100000 (microseconds); undefined if malformed. */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s)$/.exec(s);
  return m ? Math.round(Number(m[1]) * TIME_US[m[2]!]!) : undefined;
}

/** "10mbit" -> 10000000 (bits per second); undefined if malformed. */
export function parseRate(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([kmgt]?bit|[kmgt]?bps)$/.exec(s);
  return m ? Math.round(Number(m[1]) * RATE_BIT[m[2]!]!) : undefined;
}

/** "1.5%" or 1.5 -> 1.5; undefined if malformed. */
export function parsePercent(v: string | number): number | undefined {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)%$/.exec(v);
  return m ? Number(m[1]) : undefined;
}

/** Microseconds as tc and people write them: 100ms, 1.5ms, 250us, 2s. */
export function formatDuration(us: number): string {
  if (us >= 1_000_000 && us % 1_000_000 === 0) return `${us / 1_000_000}s`;
  if (us >= 1000 && us % 100 === 0) return `${us / 1000}ms`;
  return `${us}us`;
}

/** Bits per second as tc writes them: 10mbit, 512kbit, 1gbit. */
export function formatRate(bit: number): string {
  for (const [unit, f] of [
    ['tbit', 1e12],
    ['gbit', 1e9],
    ['mbit', 1e6],
    ['kbit', 1e3],
  ] as const) {
    const v = (bit / f) * 1000;
    if (bit >= f && Math.abs(v - Math.round(v)) < 1e-6) return `${Math.round(v) / 1000}${unit}`;
  }
  return `${bit}bit`;
}

export function formatPercent(p: number): string {
  return `${+p.toFixed(4)}%`;
}

/** Which qdisc an impairment needs: netem for delay/jitter/loss, tbf for a rate alone. */
export function qdiscOf(i: Impairment | undefined): QdiscState | undefined {
  if (!i) return undefined;
  const netem = !!(i.delay || i.jitter || i.loss);
  if (netem) return { kind: 'netem', impair: i };
  if (i.rate) return { kind: 'tbf', impair: i };
  return undefined;
}

/** tbf needs a bucket: 10 full frames or 10 ms worth of the rate, whichever is more. */
export function tbfBurst(rateBit: number): number {
  return Math.max(15140, Math.ceil(rateBit / 8 / 100));
}

/** The words after `tc qdisc replace dev X root`: "netem delay 100ms 10ms loss 1%". */
export function qdiscArgs(q: QdiscState): string[] {
  const i = q.impair;
  if (q.kind === 'tbf') {
    const out = ['tbf', 'rate', formatRate(i.rate!), 'burst', String(tbfBurst(i.rate!))];
    // A queue of `limit` packets: tbf counts bytes, a full frame is 1514.
    return i.limit ? [...out, 'limit', String(i.limit * 1514)] : [...out, 'latency', '50ms'];
  }
  const out = ['netem'];
  if (i.limit) out.push('limit', String(i.limit));
  if (i.delay || i.jitter) out.push('delay', formatDuration(i.delay ?? 0), ...(i.jitter ? [formatDuration(i.jitter)] : []));
  if (i.loss) out.push('loss', formatPercent(i.loss));
  if (i.rate) out.push('rate', formatRate(i.rate));
  return out;
}

/** For plans and status: "delay 100ms jitter 10ms loss 1% rate 10mbit". */
export function impairText(i: Impairment): string {
  const p: string[] = [];
  if (i.delay !== undefined) p.push(`delay ${formatDuration(i.delay)}`);
  if (i.jitter) p.push(`jitter ${formatDuration(i.jitter)}`);
  if (i.loss) p.push(`loss ${formatPercent(i.loss)}`);
  if (i.rate) p.push(`rate ${formatRate(i.rate)}`);
  if (i.limit) p.push(`limit ${i.limit}`);
  return p.join(' ') || 'none';
}

const near = (a: number, b: number, rel: number, abs: number) => Math.abs(a - b) <= Math.max(abs, Math.abs(b) * rel);

/**
 * Does the qdisc the kernel has do what the lab asks? The kernel stores times in ns, loss as a
 * fraction of 2^32 and rates in bytes: compare with the rounding that implies. A limit the lab
 * does not give is the kernel's default and not compared.
 */
export function qdiscMatches(want: QdiscState | undefined, have: QdiscState | undefined): boolean {
  if (!want || !have) return !want && !have;
  if (want.kind !== have.kind) return false;
  const w = want.impair;
  const h = have.impair;
  if (!near(h.rate ?? 0, w.rate ?? 0, 0.001, 8)) return false;
  // tc -j shows tbf's queue as a latency, not the limit it was given: the rate is what is compared.
  if (want.kind === 'tbf') return true;
  return near(h.delay ?? 0, w.delay ?? 0, 0.001, 1) && near(h.jitter ?? 0, w.jitter ?? 0, 0.001, 1) && near(h.loss ?? 0, w.loss ?? 0, 0.001, 0.0001) && (w.limit === undefined || h.limit === w.limit);
}

interface TcQdisc {
  kind: string;
  dev?: string;
  root?: boolean;
  options?: {
    limit?: number;
    delay?: { delay?: number; jitter?: number };
    'loss-random'?: { loss?: number };
    rate?: number | { rate?: number };
    burst?: number;
  };
}

/** `tc -j qdisc show` -> device -> the root qdisc netlab manages (netem or tbf). */
export function parseQdiscs(docs: unknown[]): Map<string, QdiscState> {
  const out = new Map<string, QdiscState>();
  for (const q of docs as TcQdisc[]) {
    if (!q.root || !q.dev || (q.kind !== 'netem' && q.kind !== 'tbf')) continue;
    const o = q.options ?? {};
    const i: Impairment = {};
    if (q.kind === 'tbf') {
      // tbf: rate in bytes per second.
      if (typeof o.rate === 'number') i.rate = o.rate * 8;
    } else {
      // netem: delay and jitter in seconds, loss as a fraction, rate in bytes per second.
      if (o.delay?.delay) i.delay = Math.round(o.delay.delay * 1e6);
      if (o.delay?.jitter) i.jitter = Math.round(o.delay.jitter * 1e6);
      if (o['loss-random']?.loss) i.loss = o['loss-random'].loss * 100;
      const rate = typeof o.rate === 'object' ? o.rate.rate : undefined;
      if (rate) i.rate = rate * 8;
      if (o.limit !== undefined) i.limit = o.limit;
    }
    out.set(q.dev, { kind: q.kind, impair: i });
  }
  return out;
}
