// verify: runs a lab's checks (ping, tcp, udp, exec) in its namespaces, in parallel, each with a
// bounded retry for settling, and reports what was expected against what was seen.
import type { CheckSpec, Lab } from '../model/types.js';
import { parallel, type CommandRunner, type RunResult } from '../runner/runner.js';
import { commandText } from '../core/shell.js';
import { checkArgv } from './probes.js';
import { sleep } from '../core/time.js';

export interface CheckResult {
  check: CheckSpec;
  /** What happened: the probe got through (ok) or not (fail). */
  seen: 'ok' | 'fail';
  /** Seen matches the expectation. */
  met: boolean;
  attempts: number;
  ms: number;
  command: string;
  /** The probe's own output, trimmed. */
  output: string;
  /** Exit code of the last attempt. */
  exitCode: number;
}

function passed(c: CheckSpec, r: RunResult): boolean {
  switch (c.kind) {
    case 'ping':
    case 'tcp':
      return r.exitCode === 0;
    case 'udp':
      return r.exitCode === 0 && r.stdout.length > 0;
    case 'trace':
      return r.exitCode === 0;
    case 'exec': {
      if (r.exitCode !== (c.exitCode ?? 0)) return false;
      return c.output === undefined || new RegExp(c.output, 'm').test(`${r.stdout}${r.stderr}`);
    }
  }
}

function excerpt(r: RunResult): string {
  const text = `${r.stdout}${r.stderr}`.trim();
  const lines = text.split('\n');
  return lines.length > 12 ? [...lines.slice(0, 4), '...', ...lines.slice(-7)].join('\n') : text;
}

/** A trace check: the path must pass the named chains, in order, and end as said. */
async function runTraceCheck(runner: CommandRunner, c: Extract<CheckSpec, { kind: 'trace' }>, lab: Lab): Promise<CheckResult> {
  const t0 = performance.now();
  const { trace } = await import('../trace/trace.js');
  const { formatTrace } = await import('../trace/parse.js');
  const r = await trace(runner, lab, { from: c.from, to: c.to, proto: c.proto, ...(c.port ? { port: c.port } : {}) });
  const seen = r.hops.map((h) => `${h.ns}:${h.table}/${h.chain}`);
  let at = 0;
  const missing = c.passes.filter((want) => {
    const i = seen.findIndex((s, k) => k >= at && (want.includes(':') ? s === want : s.endsWith(`:${want}`)));
    if (i < 0) return true;
    at = i + 1;
    return false;
  });
  const ok = missing.length === 0 && (!c.result || r.outcome.result === c.result);
  const want = [...(c.passes.length ? [`passes ${c.passes.join(' -> ')}`] : []), ...(c.result ? [c.result] : [])].join(', ');
  const output = [`wanted: ${want || 'any path'}`, ...(missing.length ? [`not passed (in this order): ${missing.join(', ')}`] : []), ...formatTrace(r.hops, r.outcome)].join('\n');
  return {
    check: c,
    seen: ok ? 'ok' : 'fail',
    met: (ok ? 'ok' : 'fail') === c.expect,
    attempts: 1,
    ms: Math.round(performance.now() - t0),
    command: checkArgv(c).argv.join(' '),
    output,
    exitCode: ok ? 0 : 1,
  };
}

export async function runCheck(runner: CommandRunner, c: CheckSpec, lab?: Lab): Promise<CheckResult> {
  if (c.kind === 'trace') {
    if (!lab) throw new Error('a trace check needs its lab');
    return runTraceCheck(runner, c, lab);
  }
  const { argv, input } = checkArgv(c);
  const t0 = performance.now();
  const tries = c.expect === 'ok' ? c.attempts : 1;
  let last: RunResult = { stdout: '', stderr: '', exitCode: 1 };
  let ok = false;
  let n = 0;
  while (n < tries && !ok) {
    if (n > 0) await sleep(200);
    n++;
    // ping and socat bound themselves, the runner's timeout is a backstop for a probe that hangs;
    // an exec check has only the runner's.
    last = await runner.run(argv, { ...(input !== undefined ? { input } : {}), timeoutMs: c.kind === 'exec' ? c.timeoutMs : c.timeoutMs + 2000 });
    ok = passed(c, last);
  }
  const seen = ok ? 'ok' : 'fail';
  return { check: c, seen, met: seen === c.expect, attempts: n, ms: Math.round(performance.now() - t0), command: commandText(argv, input), output: excerpt(last), exitCode: last.exitCode };
}

export async function runChecks(runner: CommandRunner, checks: CheckSpec[], opts: { concurrency?: number; lab?: Lab; onResult?: (r: CheckResult, i: number) => void } = {}): Promise<CheckResult[]> {
  const indexed = checks.map((c, i) => [c, i] as const);
  const probes = indexed.filter(([c]) => c.kind !== 'trace');
  const traces = indexed.filter(([c]) => c.kind === 'trace');
  const out: CheckResult[] = new Array(checks.length);
  await parallel(probes, opts.concurrency ?? 8, async ([c, i]) => {
    out[i] = await runCheck(runner, c);
    opts.onResult?.(out[i]!, i);
  });
  // Traces one at a time, after the probes: each turns tracing on in every namespace of the lab.
  for (const [c, i] of traces) {
    out[i] = await runCheck(runner, c, opts.lab);
    opts.onResult?.(out[i]!, i);
  }
  return out;
}

/** Every check was met (true for none): the one verdict up, check and their views use. */
export const allMet = (results: CheckResult[]): boolean => results.every((r) => r.met);

/** What a failed check prints: what it ran, what it expected, what it saw. */
export function expectationText(r: CheckResult): string {
  const c = r.check;
  if (c.kind === 'trace') return `expected the path ${r.check.expect === 'ok' ? '' : 'not '}to match, but it did${r.seen === 'ok' ? '' : ' not'}`;
  if (c.kind === 'exec') {
    const want = `exit code ${c.exitCode ?? 0}${c.output !== undefined ? ` and output matching /${c.output}/` : ''}`;
    return `expected ${r.check.expect === 'ok' ? '' : 'anything but '}${want}, but got exit code ${r.exitCode}${r.exitCode === (c.exitCode ?? 0) && c.output !== undefined && r.seen === 'fail' ? ' with output not matching' : ''}`;
  }
  const want = r.check.expect === 'ok' ? 'to get through' : 'to be blocked';
  return `expected ${want}, but ${r.seen === 'ok' ? 'it got through' : 'it did not get through'}`;
}

export function failureText(r: CheckResult): string {
  return [
    `${r.check.label}: ${expectationText(r)} (${r.attempts} attempt${r.attempts === 1 ? '' : 's'}, ${r.ms} ms)`,
    ...(r.check.why ? [`  why: ${r.check.why}`] : []),
    `  ran: ${r.command.split('\n')[0]}`,
    ...(r.output ? r.output.split('\n').map((l) => `  | ${l}`) : []),
  ].join('\n');
}
