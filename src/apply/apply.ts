// apply: runs rendered steps phase by phase through the CommandRunner, journaling every change
// before it is made, and maps a failure back to the lab object it served.
import { HOST, inNetns, markOf, nsLabel, tableKey, type DesiredState, type Family, type HostRule, type IptTable } from '../model/types.js';
import { sysctlSides } from '../model/hoststate.js';
import { CliError, EXIT, onlyGone } from '../core/errors.js';
import { PHASES, type Action, type Phase } from '../plan/actions.js';
import { parallel, runMany, type CommandRunner, type RunResult } from '../runner/runner.js';
import { commandText } from '../core/shell.js';
import { addUnique, dropClaims, recordOwned, writeJournal } from '../state/journal.js';
import type { Journal } from '../model/journal.js';
import { hostFiles, type HostFiles } from '../observe/files.js';
import { takeReceipt, withReceipt } from './receipt.js';
import { forgetVerified, recordVerified, type InodeOf } from '../state/trust.js';
import { ObserveError, concurrency, readHostIptables, taggedRules } from '../observe/observe.js';
import { normalizeSave, saveTool } from '../render/iptables.js';
import { render, type Step } from '../render/render.js';
import { ProcessExitedError, startProcess, stopProcess, stopProcesses } from './processes.js';
import { logFile, processKey } from '../model/processes.js';
import { describeSysctlFailure, factsArgv, isSysctlStep, parseFacts, refusals, sysctlFailed } from './sysctls.js';

export class ApplyError extends CliError {
  /** What undoing the failed step did (set by the applier). */
  rollback?: RollbackReport;

  constructor(
    readonly object: string,
    readonly command: string,
    readonly stderr: string,
    readonly line?: string,
    hint?: string,
  ) {
    super(`${object}: command failed: ${line ? `${line}\n  in: ` : ''}${command.split('\n')[0]}\n  ${stderr.trim().split('\n').join('\n  ')}`, EXIT.applyFailed, hint);
    this.name = 'ApplyError';
  }

  override text(): string {
    const rb = this.rollback;
    const undone = !rb
      ? ''
      : rb.commands.length
        ? `rolled back what the failed step had done:\n  ${rb.commands.join('\n').split('\n').join('\n  ')}\n`
        : 'the failed step had changed nothing: nothing to roll back\n';
    const notUndone = rb?.failed.length ? `could not roll back (netlab down removes it):\n  ${rb.failed.join('\n  ')}\n` : '';
    const hint = this.hint ? `  hint: ${this.hint}\n` : '';
    return `error: ${this.message}\n${hint}${undone}${notUndone}the steps before it are applied: fix the cause and run 'netlab up' again (it applies only what is missing), or 'netlab down' to remove the lab`;
  }
}

export interface RollbackReport {
  /** The undo commands, as shell. */
  commands: string[];
  /** Undo commands that failed themselves, with their stderr. */
  failed: string[];
}

/** The action that undoes an applied one, when there is a safe one (adds are deleted, sysctls restored). */
export function inverse(a: Action): Action | undefined {
  const undo = { object: a.object, reason: 'roll back the failed step' };
  switch (a.kind) {
    case 'netns.add':
      return { kind: 'netns.del', ns: a.ns, ...undo };
    case 'link.add':
      return { kind: 'link.del', ns: a.ns, name: a.link.name, ...undo };
    case 'addr.add':
      return { ...a, kind: 'addr.del', ...undo };
    case 'route.add':
      return { ...a, kind: 'route.del', ...undo };
    case 'rule.add':
      return { ...a, kind: 'rule.del', ...undo };
    case 'qdisc.replace':
      return a.fresh ? { kind: 'qdisc.del', ns: a.ns, dev: a.dev, ...undo } : undefined;
    case 'sysctl.set':
      return a.previous !== undefined ? { kind: 'sysctl.set', ns: a.ns, key: a.key, value: a.previous, ...undo } : undefined;
    case 'ipset.create':
      return a.replace ? undefined : { kind: 'ipset.destroy', ns: a.ns, name: a.set.name, ...undo };
    default:
      // Settings changed in place (link set, route replace) are left for the next `up` to converge;
      // iptables-restore and host rules are all-or-nothing already.
      return undefined;
  }
}

/** The input line a batch failed on (1-based): ip and tc say `Command failed -:N`, ipset restore `Error in line N`. */
function failedLine(stderr: string): number | undefined {
  const m = /Command failed -:(\d+)/.exec(stderr) ?? /Error in line (\d+)/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/** The actions of a failed step that had been applied: for a batch, the lines before the failing one. */
export function appliedActions(step: Step, stderr: string): Action[] {
  const n = failedLine(stderr);
  if (n !== undefined && step.lines.length) return [...new Set(step.lines.slice(0, n - 1))];
  return step.actions;
}

/** Undoes what a failed step did, newest first; never throws: what it could not undo is reported. */
async function rollback(runner: CommandRunner, step: Step, stderr: string, j: Journal): Promise<RollbackReport> {
  // sysctl(8) sets every key it can: the ones it refused were not changed.
  const refused = isSysctlStep(step.actions) ? new Set(refusals(step.actions, stderr).map((r) => r.action)) : new Set<Action>();
  const undo = appliedActions(step, stderr)
    .filter((a) => !refused.has(a))
    .map(inverse)
    .filter((a): a is Action => !!a)
    .reverse();
  const report: RollbackReport = { commands: [], failed: [] };
  for (const s of render(undo)) {
    report.commands.push(commandText(s.argv, s.input));
    const r = await runner.run(s.argv, s.input !== undefined ? { input: s.input } : {});
    const failed = isSysctlStep(s.actions) ? sysctlFailed(r) : r.exitCode !== 0 && (!s.tolerant || !onlyGone(r.stderr));
    if (failed) report.failed.push(`${commandText(s.argv, s.input).split('\n')[0]}: ${r.stderr.trim()}`);
  }
  // What was undone is no longer the lab's to remove.
  dropClaims(
    j,
    undo.flatMap((a) => (a.kind === 'netns.del' ? [a.ns] : [])),
    undo.flatMap((a) => (a.kind === 'link.del' && a.ns === HOST ? [a.name] : [])),
  );
  forgetSets(j, undo);
  return report;
}

/** Which action a failed step failed on, from the tool's own error text. */
function culprit(step: Step, r: RunResult): { action?: Action; line?: string } {
  const n = step.lines.length ? failedLine(r.stderr) : undefined;
  if (n !== undefined) return { action: step.lines[n - 1], line: step.input?.split('\n')[n - 1] };
  const ipt = /line:? (\d+)/i.exec(r.stderr);
  if (ipt && step.input) {
    const n = Number(ipt[1]);
    const lines = step.input.split('\n');
    const line = lines[n - 1];
    let table: string | undefined;
    for (let i = n - 1; i >= 0; i--)
      if (lines[i]!.startsWith('*')) {
        table = lines[i]!.slice(1);
        break;
      }
    const action = step.actions.find(
      (a) =>
        ((a.kind === 'iptables.restore' || a.kind === 'iptables.unhook') && a.table === table) ||
        ((a.kind === 'hostipt.add' || a.kind === 'hostipt.del') && a.rule.table === table && line?.includes(a.rule.spec.split(' -m comment')[0]!)),
    );
    return { ...(action ? { action } : {}), ...(line ? { line } : {}) };
  }
  return step.actions.length === 1 ? { action: step.actions[0]! } : {};
}

/** A failed sysctl step's error, told again with what each key it refused is in that namespace. */
async function explainSysctls(runner: CommandRunner, step: Step, e: ApplyError): Promise<ApplyError> {
  const keys = refusals(step.actions, e.stderr).map((r) => r.action.key);
  if (!keys.length) return e;
  const r = await runner.run(factsArgv(step.ns, keys)).catch(() => undefined);
  if (r?.exitCode !== 0) return e;
  const f = describeSysctlFailure(step.actions, e.stderr, parseFacts(r.stdout));
  return new ApplyError(f.object, e.command, e.stderr, f.line, f.hint);
}

async function runProcessStep(runner: CommandRunner, step: Step, j: Journal): Promise<void> {
  const a = step.actions[0]!;
  j.processes ??= {};
  if (a.kind === 'process.stop') {
    const rec = j.processes[a.key];
    if (rec) await stopProcess(runner, rec);
    delete j.processes[a.key];
    return;
  }
  if (a.kind === 'process.adopt') {
    j.processes[a.key] = { ns: a.ns, argv: a.process.argv, pid: a.pid, start: a.start, log: logFile(j.lab, a.ns, a.process.name) };
    writeJournal(j);
    return;
  }
  if (a.kind !== 'process.start') return;
  const key = processKey(a.process);
  // A restart: whatever is left of the previous run (children of a dead leader) goes first.
  const old = j.processes[key];
  if (old) await stopProcess(runner, old);
  try {
    const rec = await startProcess(runner, j.lab, a.process, 300, (spawned) => {
      j.processes![key] = spawned;
      writeJournal(j);
    });
    j.processes[key] = rec;
  } catch (e) {
    if (e instanceof ProcessExitedError) throw new ApplyError(a.object, e.command, e.output ? `its output:\n${e.output}` : 'it printed nothing', 'the process exited right after it started');
    throw e;
  }
}

const isProcessStep = (s: Step) => s.actions[0]?.kind.startsWith('process.') ?? false;

/** Throws an ApplyError, naming the lab object, when a step's command failed. */
function judge(step: Step, r: RunResult): void {
  if (isSysctlStep(step.actions)) {
    if (!sysctlFailed(r)) return;
    const f = describeSysctlFailure(step.actions, r.stderr);
    throw new ApplyError(f.object, commandText(step.argv, step.input), r.stderr || `exit code ${r.exitCode}`, f.line, f.hint);
  }
  if (r.exitCode === 0) return;
  if (step.tolerant && onlyGone(r.stderr)) return;
  const { action, line } = culprit(step, r);
  const object = action?.object ?? `namespace ${nsLabel(step.ns)}`;
  throw new ApplyError(object, commandText(step.argv, step.input), r.stderr || `exit code ${r.exitCode}`, line);
}

function recordIntent(j: Journal, phase: Phase, actions: Action[]): void {
  for (const a of actions) {
    if (phase === 'namespaces' && a.kind === 'netns.add') addUnique(j.namespaces, [a.ns]);
    if (phase === 'links' && a.kind === 'link.add') {
      if (a.ns === HOST) addUnique(j.hostLinks, [a.link.name]);
      if (a.link.peer) {
        const p = a.link.peer;
        if (p.ns === HOST) addUnique(j.hostLinks, [p.name]);
        (j.peers[a.ns] ??= {})[a.link.name] = `${p.ns}/${p.name}`;
        (j.peers[p.ns] ??= {})[p.name] = `${a.ns}/${a.link.name}`;
      }
    }
    if (a.kind === 'sysctl.set' && a.previous !== undefined) {
      const rec = (j.sysctls[a.ns] ??= {});
      if (rec[a.key] === undefined) rec[a.key] = a.previous;
    }
    if (a.kind === 'sysctl.set' && a.sides) j.hostSysctlSides = { ...a.sides, ...j.hostSysctlSides };
    if (a.kind === 'iptables.restore') (j.iptables[a.ns] ??= {})[tableKey(a.family, a.table)] = { hash: a.hash };
    if (a.kind === 'rule.add' && a.rule.family === 'ipv6') addUnique(j.v6rules, [a.ns]);
    if (a.kind === 'qdisc.replace') addUnique((j.impaired ??= []), [a.ns]);
    if (a.kind === 'ipset.create') addUnique(((j.ipsets ??= {})[a.ns] ??= []), [a.set.name]);
    if (a.kind === 'hostipt.add' && a.tablesBefore) (j.hostTablesBefore ??= {})[a.rule.family] ??= a.tablesBefore;
    if (a.kind === 'hostipt.add' && a.chainsBefore) (j.hostChainsBefore ??= {})[a.rule.family] ??= a.chainsBefore;
  }
}

/** The host ends a link.add makes. */
function hostEnds(a: Action): string[] {
  if (a.kind !== 'link.add') return [];
  return [...(a.ns === HOST ? [a.link.name] : []), ...(a.link.peer?.ns === HOST ? [a.link.peer.name] : [])];
}

/**
 * After the links phase: a host link whose line ran is the lab's once it carries the lab's mark
 * (set by the same batch): its ifindex is recorded. A line that failed or never ran made nothing:
 * its claim goes (the name may be another's, e.g. the winner of a race for it).
 */
function proveHostLinks(j: Journal, applied: Action[], notApplied: Action[], files: HostFiles): void {
  const mark = markOf(j.lab);
  const owned = new Map<string, number>();
  for (const name of applied.flatMap(hostEnds)) {
    const l = files.hostLink?.(name);
    if (l?.alias === mark) owned.set(name, l.ifindex);
  }
  recordOwned(j, new Map(), owned);
  dropClaims(
    j,
    [],
    notApplied.flatMap(hostEnds).filter((n) => !owned.has(n)),
  );
}

/** Sets destroyed (not re-created) are no longer the lab's to read back. */
function forgetSets(j: Journal, actions: Action[]): void {
  for (const a of actions) {
    if (a.kind !== 'ipset.destroy' || a.replace || !j.ipsets?.[a.ns]) continue;
    j.ipsets[a.ns] = j.ipsets[a.ns]!.filter((n) => n !== a.name);
    if (!j.ipsets[a.ns]!.length) delete j.ipsets[a.ns];
  }
}

function recordDone(j: Journal, phase: Phase, actions: Action[], desired: DesiredState): void {
  if (phase === 'unused-ipsets') forgetSets(j, actions);
  if (phase !== 'delete' && phase !== 'sysctls') return;
  for (const a of actions) {
    if (a.kind === 'netns.del') {
      j.namespaces = j.namespaces.filter((n) => n !== a.ns);
      delete j.peers[a.ns];
      delete j.sysctls[a.ns];
      delete j.iptables[a.ns];
      delete j.ipsets?.[a.ns];
    }
    if (a.kind === 'link.del') {
      if (a.ns === HOST) j.hostLinks = j.hostLinks.filter((n) => n !== a.name);
      delete j.peers[a.ns]?.[a.name];
    }
    if (a.kind === 'sysctl.set' && !(a.ns === HOST ? desired.hostSysctls : desired.ns.get(a.ns)?.sysctls)?.has(a.key)) {
      delete j.sysctls[a.ns]?.[a.key];
      const sides = a.ns === HOST ? sysctlSides(a.key) : undefined;
      if (sides && j.hostSysctlSides) for (const k of Object.keys(j.hostSysctlSides)) if (sides.test(k)) delete j.hostSysctlSides[k];
    }
  }
}

/** Reads back what iptables-save made of the tables just restored, for later comparison. */
async function recordFirewall(runner: CommandRunner, j: Journal, actions: Action[], desired: DesiredState): Promise<void> {
  const touched = new Map<string, [string, Family]>();
  for (const a of actions) if (a.kind === 'iptables.restore') touched.set(`${a.ns}|${a.family}`, [a.ns, a.family]);
  const pairs = [...touched.values()];
  const cmds = pairs.map(([ns, family]) => inNetns(ns, [saveTool(family)]));
  const reads = await runMany(
    runner,
    cmds.map((argv) => ({ argv })),
    concurrency(),
  );
  pairs.forEach(([ns, family], i) => {
    const r = reads[i]!;
    if (r.exitCode !== 0) throw new ObserveError(`reading back the tables just restored failed: ${cmds[i]!.join(' ')}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
    const saved = normalizeSave(r.stdout);
    for (const a of actions) {
      if (a.kind !== 'iptables.restore' || a.ns !== ns || a.family !== family) continue;
      const key = tableKey(family, a.table);
      if (!desired.ns.get(ns)?.iptables.has(key)) delete j.iptables[ns]?.[key];
      else j.iptables[ns]![key] = { hash: a.hash, saved: saved.get(a.table) ?? '' };
    }
  });
  if (actions.some((a) => a.kind === 'hostipt.add' || a.kind === 'hostipt.del')) {
    const rules = [];
    for (const family of ['ipv4', 'ipv6'] as Family[]) {
      const want = desired.hostIptables.filter((r) => r.family === family);
      if (!want.length) continue;
      const have = taggedRules(await readHostIptables(runner, family), family, desired.lab);
      const counters = new Map<string, number>();
      for (const r of want) {
        const k = `${r.table} ${r.chain}`;
        const idx = counters.get(k) ?? 0;
        counters.set(k, idx + 1);
        const saved = have.filter((h) => h.table === r.table && h.chain === r.chain)[idx]?.spec;
        const { first: _f, ...rule } = r;
        rules.push({ ...rule, ...(saved !== undefined ? { saved } : {}) });
      }
    }
    j.hostIptables = rules;
  }
}

/** The journal's claim before host rules are added: every rule the file has, each keeping its recorded saved form. */
function claimHostRules(recorded: Journal['hostIptables'], want: HostRule[]): Journal['hostIptables'] {
  const left = [...recorded];
  return want.map(({ first: _f, pos: _p, ...r }) => {
    const i = left.findIndex((x) => x.family === r.family && x.table === r.table && x.chain === r.chain && x.spec === r.spec && x.saved !== undefined);
    const saved = i >= 0 ? left.splice(i, 1)[0]!.saved : undefined;
    return { ...r, ...(saved !== undefined ? { saved } : {}) };
  });
}

/** Applies a plan phase by phase; the engine's `up` (src/engine/up.ts) drives the phases one by one. */
export class Applier {
  constructor(
    private runner: CommandRunner,
    private steps: Step[],
    private desired: DesiredState,
    readonly journal: Journal,
    private files: HostFiles = hostFiles,
  ) {}

  /** The phases that have work, in order. */
  phases(): Phase[] {
    return PHASES.filter((p) => this.steps.some((s) => s.phase === p));
  }

  stepsOf(phase: Phase): Step[] {
    return this.steps.filter((s) => s.phase === phase);
  }

  async runPhase(phase: Phase, onStep?: (step: Step, ms: number) => void): Promise<void> {
    const ps = this.stepsOf(phase);
    const pa = ps.flatMap((s) => s.actions);
    const j = this.journal;
    recordIntent(j, phase, pa);
    forgetVerified(j, this.touched());
    if (phase === 'firewall' && pa.some((a) => a.kind === 'hostipt.add')) j.hostIptables = claimHostRules(j.hostIptables, this.desired.hostIptables);
    j.status = 'applying';
    writeJournal(j);
    const t0 = performance.now();
    // Every step of the phase runs to its end; a failed one is then rolled back, so the lab is
    // left as the steps before it made it: `down` removes that, `up` converges from it.
    const failures: { step: Step; error: unknown }[] = [];
    // A deleted namespace lives on while a process is in it: its processes go first, whoever started them.
    const dropped = pa.flatMap((a) => (a.kind === 'netns.del' ? [a.ns] : []));
    if (dropped.length) await stopProcesses(this.runner, { namespaces: dropped, records: [] });
    // The commands of a phase are independent: all of them through one runMany (a few shells).
    // The batch that creates namespaces leaves a receipt of what it created (src/apply/receipt.ts).
    const plain = ps.filter((s) => !isProcessStep(s)).map((s) => (s.actions.some((a) => a.kind === 'netns.add') ? withReceipt(s, j.lab) : s));
    const results = await runMany(
      this.runner,
      plain.map((s) => ({ argv: s.argv, ...(s.input !== undefined ? { input: s.input } : {}) })),
      concurrency(),
    );
    plain.forEach((s, i) => {
      try {
        judge(s, results[i]!);
        onStep?.(s, performance.now() - t0);
      } catch (error) {
        failures.push({ step: s, error });
      }
    });
    await parallel(ps.filter(isProcessStep), concurrency(), async (s) => {
      const t = performance.now();
      try {
        await runProcessStep(this.runner, s, j);
        onStep?.(s, performance.now() - t);
      } catch (error) {
        failures.push({ step: s, error });
      }
    });
    if (phase === 'namespaces') await takeReceipt(j, 0);
    if (phase === 'links') {
      const applied = plain.flatMap((s, i) => (results[i]!.exitCode === 0 ? s.actions : appliedActions(s, results[i]!.stderr)));
      proveHostLinks(
        j,
        applied,
        pa.filter((a) => !applied.includes(a)),
        this.files,
      );
    }
    if (failures.length) {
      for (const f of failures) {
        if (f.error instanceof ApplyError && isSysctlStep(f.step.actions)) f.error = await explainSysctls(this.runner, f.step, f.error);
        if (f.error instanceof ApplyError) f.error.rollback = await rollback(this.runner, f.step, f.error.stderr, j);
      }
      j.status = 'failed';
      writeJournal(j);
      throw failures[0]!.error;
    }
    recordDone(j, phase, pa, this.desired);
    if (phase === 'firewall') await recordFirewall(this.runner, j, pa, this.desired);
    writeJournal(j);
  }

  /**
   * Every namespace a step of this plan changes: a veth made from one namespace changes its peer's
   * too, and one deleted (alone or with its namespace) takes its recorded peer end with it.
   */
  touched(): Set<string> {
    const out = new Set<string>();
    const peerNs = (ns: string, name: string) => this.journal.peers[ns]?.[name]?.split('/')[0];
    for (const a of this.steps.flatMap((s) => s.actions)) {
      out.add(a.ns);
      if (a.kind === 'link.add' && a.link.peer) out.add(a.link.peer.ns);
      const gone = a.kind === 'link.del' ? [peerNs(a.ns, a.name)] : a.kind === 'netns.del' ? Object.keys(this.journal.peers[a.ns] ?? {}).map((n) => peerNs(a.ns, n)) : [];
      for (const ns of gone) if (ns !== undefined) out.add(ns);
    }
    return out;
  }
}

/**
 * Records a lab as up (after its last phase, or a plan with nothing to do), and as verified only
 * the namespaces in `verified`: those a read of this run found as the file asks. A namespace the
 * run changed is not verified until a later read finds it so (forgotten when its phase began).
 */
export function settled(j: Journal, desired: DesiredState, verified: Iterable<string>, inode: InodeOf): void {
  j.status = 'up';
  recordVerified(j, desired, verified, inode);
  writeJournal(j);
}

export type { IptTable };
