#!/usr/bin/env node
// cli: parses options, calls the engine, maps errors to the documented exit codes. Stays thin.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { LabError, formatProblem } from '../load/problems.js';
import { loadLabFile } from '../load/lab.js';
import { ExecaRunner } from '../runner/runner.js';
import { ConflictError, conflictText, down, planLab, up, type Planned } from '../engine.js';
import { ApplyError } from '../apply/apply.js';
import { TeardownError } from '../apply/teardown.js';
import { ObserveError } from '../observe/observe.js';
import { LockError } from '../state/lock.js';
import { describe, symbol } from '../plan/actions.js';
import { scriptOf } from '../render/render.js';
import { listJournals, readJournal } from '../state/journal.js';
import { generate, GenerateError, type Topology } from '../generate.js';
import { nsLabel } from '../model/types.js';

/** Exit codes, documented in the README. */
export const EXIT = {
  ok: 0,
  error: 1,
  invalid: 2,
  applyFailed: 3,
  checksFailed: 4,
  locked: 5,
  pending: 2,
} as const;

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

const runner = new ExecaRunner();
const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

function requireRoot(what: string): void {
  if (process.getuid && process.getuid() !== 0) {
    err(`netlab ${what}: needs root (network namespaces, links and iptables need CAP_NET_ADMIN and CAP_SYS_ADMIN)\n  hint: sudo netlab ${what} ...`);
    throw new Exit(EXIT.error);
  }
}

/** A lab is named by its file or, for down/status, by its name. */
function labNameOf(arg: string): string {
  if (/\.ya?ml$/.test(arg) || arg.includes('/')) {
    try {
      return loadLabFile(arg).name;
    } catch (e) {
      // The file may be gone or broken: fall back to the journal that names this file.
      const abs = resolve(arg);
      const j = listJournals().find((x) => x.file === abs);
      if (j) return j.lab;
      throw e;
    }
  }
  return arg;
}

function planJson(p: Planned) {
  return {
    lab: p.lab.name,
    file: resolve(p.lab.file),
    changes: p.plan.actions.map((a) => ({ symbol: symbol(a), kind: a.kind, namespace: nsLabel(a.ns), object: a.object, reason: a.reason, text: describe(a) })),
    conflicts: p.plan.conflicts,
    commands: p.steps.map((s) => ({ phase: s.phase, namespace: nsLabel(s.ns), argv: s.argv, ...(s.input !== undefined ? { input: s.input } : {}) })),
  };
}

function summary(p: Planned): string {
  const n = p.plan.actions.length;
  const c = { '+': 0, '~': 0, '-': 0, '-/+': 0 } as Record<string, number>;
  for (const a of p.plan.actions) c[symbol(a)] = (c[symbol(a)] ?? 0) + 1;
  return n === 0 ? 'no changes: the kernel matches the lab file' : `${n} change${n === 1 ? '' : 's'}: ${c['+']} to add, ${c['~']} to change, ${c['-']} to delete, ${c['-/+']} to replace`;
}

const program = new Command();
program
  .name('netlab')
  .description('Declarative Linux network-namespace labs: validate, plan, up, down')
  .version('0.1.0')
  .showHelpAfterError('(run netlab --help for usage)')
  .exitOverride();

program
  .command('validate')
  .description('check lab files against the schema and the semantic rules; print every problem')
  .argument('<file...>', 'lab files')
  .option('--json', 'print problems as JSON')
  .action((files: string[], o: { json?: boolean }) => {
    const problems = [];
    for (const f of files) {
      try {
        loadLabFile(f);
        if (!o.json) out(`${f}: ok`);
      } catch (e) {
        if (!(e instanceof LabError)) throw e;
        problems.push(...e.problems);
      }
    }
    if (o.json) out(JSON.stringify({ valid: problems.length === 0, problems }, null, 2));
    else for (const p of problems) err(formatProblem(p));
    if (problems.length) {
      if (!o.json) err(`${problems.length} problem${problems.length === 1 ? '' : 's'} found`);
      throw new Exit(EXIT.invalid);
    }
  });

program
  .command('plan')
  .description('show what up would change, without changing anything')
  .argument('<file>', 'lab file')
  .option('--commands', 'also print the exact commands, as a pasteable shell script')
  .option('--json', 'print the plan as JSON')
  .option('--detailed-exitcode', 'exit 0 when there is nothing to do, 2 when changes are pending, 1 on any error')
  .action(async (file: string, o: { commands?: boolean; json?: boolean; detailedExitcode?: boolean }) => {
    requireRoot('plan');
    detailed = !!o.detailedExitcode;
    const p = await planLab(runner, loadLabFile(file));
    if (o.json) out(JSON.stringify(planJson(p), null, 2));
    else {
      out(`lab ${p.lab.name}: ${summary(p)}`);
      for (const a of p.plan.actions) out(`  ${describe(a)}`);
      if (p.plan.conflicts.length) err(`\nup would refuse:\n${conflictText(p.plan)}`);
      if (o.commands && p.steps.length) out(`\n${scriptOf(p.steps)}`);
    }
    if (p.plan.conflicts.length) throw new Exit(EXIT.applyFailed);
    if (o.detailedExitcode && p.plan.actions.length) throw new Exit(EXIT.pending);
  });

program
  .command('up')
  .description('create or update the lab so that the kernel matches the file (only the difference is applied)')
  .argument('<file>', 'lab file')
  .option('--dry-run', 'print the commands that would run, change nothing')
  .option('--json', 'print the result as JSON')
  .action(async (file: string, o: { dryRun?: boolean; json?: boolean }) => {
    requireRoot('up');
    const lab = loadLabFile(file);
    if (o.dryRun) {
      const p = await planLab(runner, lab);
      if (o.json) out(JSON.stringify(planJson(p), null, 2));
      else {
        out(`# lab ${lab.name}: ${summary(p)} (dry run: nothing was changed)`);
        if (p.steps.length) out(scriptOf(p.steps));
      }
      if (p.plan.conflicts.length) {
        err(conflictText(p.plan));
        throw new Exit(EXIT.applyFailed);
      }
      return;
    }
    const t0 = performance.now();
    const log = o.json ? () => {} : out;
    const r = await up(runner, lab, {
      planned: (p) => log(`lab ${lab.name}: ${summary(p)}`),
      phaseStart: (phase, steps) => log(`  ${phase.padEnd(10)} ${steps.flatMap((s) => s.actions).length} change(s) in ${new Set(steps.map((s) => s.ns)).size} namespace(s), ${steps.length} command(s)`),
    });
    const ms = Math.round(performance.now() - t0);
    if (o.json) out(JSON.stringify({ ...planJson(r.planned), applied: r.applied, ms }, null, 2));
    else log(r.applied ? `lab ${lab.name} is up (${ms} ms)` : `lab ${lab.name} is up; nothing to do (${ms} ms)`);
  });

program
  .command('down')
  .description('remove everything the lab made, from its journal (works after the file was edited or deleted)')
  .argument('<lab>', 'lab file or lab name')
  .option('--dry-run', 'print the commands that would run, change nothing')
  .action(async (arg: string, o: { dryRun?: boolean }) => {
    requireRoot('down');
    const name = labNameOf(arg);
    const t0 = performance.now();
    const r = await down(runner, name, o.dryRun ? { dryRun: true } : {});
    if (!r) {
      out(`lab ${name} is not up: nothing to remove`);
      return;
    }
    if (o.dryRun) {
      out(`# lab ${name}: down (dry run: nothing was changed)`);
      for (const c of r.commands) out(c);
      return;
    }
    for (const s of r.skipped) err(`left alone: ${s}: it carries another owner's mark`);
    out(`lab ${name} is down: removed ${r.namespaces.length} namespace(s), ${r.hostLinks.length} host link(s), ${r.hostRules} host iptables rule(s), restored ${r.sysctls.length} host sysctl(s) (${Math.round(performance.now() - t0)} ms)`);
  });

program
  .command('status')
  .description('labs that are up, their nodes and links, and whether the kernel still matches the file')
  .argument('[lab]', 'lab name or file (default: every lab)')
  .option('--json', 'print as JSON')
  .action(async (arg: string | undefined, o: { json?: boolean }) => {
    requireRoot('status');
    const journals = arg ? [readJournal(labNameOf(arg))].filter((j) => !!j) : listJournals();
    if (arg && journals.length === 0) {
      if (o.json) out(JSON.stringify({ labs: [] }));
      else out(`lab ${arg} is not up`);
      return;
    }
    const labs = [];
    for (const j of journals) {
      let drift: number | null = null;
      let note: string | undefined;
      try {
        const p = await planLab(runner, loadLabFile(j.file));
        drift = p.plan.actions.length;
      } catch (e) {
        note = e instanceof LabError ? `the lab file is invalid now (${e.problems.length} problem(s))` : (e as Error).message.split('\n')[0];
      }
      labs.push({ lab: j.lab, file: j.file, status: j.status, updated: j.updated, nodes: j.namespaces, hostLinks: j.hostLinks, drift, ...(note ? { note } : {}) });
    }
    if (o.json) {
      out(JSON.stringify({ labs }, null, 2));
      return;
    }
    if (!labs.length) out('no labs are up');
    for (const l of labs) {
      const state = l.drift === null ? `drift unknown: ${l.note}` : l.drift === 0 ? 'matches the file' : `${l.drift} difference(s) from the file (netlab plan ${l.file})`;
      out(`${l.lab}  ${l.status}  ${l.nodes.length} node(s), ${l.hostLinks.length} host link(s)  ${state}`);
      out(`  file:  ${l.file}`);
      if (l.nodes.length) out(`  nodes: ${l.nodes.join(' ')}`);
      if (l.hostLinks.length) out(`  host:  ${l.hostLinks.join(' ')}`);
    }
  });

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
};

program
  .command('generate')
  .description('write a lab file with N namespaces: single (one bridge), linear or ring (routers), tree (of bridges)')
  .addArgument(new Command().createArgument('<topology>', 'single | linear | ring | tree').choices(['single', 'linear', 'ring', 'tree']))
  .argument('[n]', 'number of nodes (single, linear, ring)', positiveInt)
  .option('--depth <d>', 'tree depth', positiveInt, 2)
  .option('--fanout <f>', 'tree fanout', positiveInt, 2)
  .option('--name <name>', 'lab name (default: <topology>-<n>)')
  .option('--prefix <p>', 'prefix for node, bridge and port names (to run labs side by side)', '')
  .addOption(new Option('-o, --output <file>', 'write to a file instead of standard output'))
  .action((topology: Topology, n: number | undefined, o: { depth: number; fanout: number; name?: string; prefix: string; output?: string }) => {
    if (topology !== 'tree' && n === undefined) throw new GenerateError(`generate ${topology} needs a number of nodes, e.g. netlab generate ${topology} 4`);
    const text = generate({ topology, n: n ?? 0, depth: o.depth, fanout: o.fanout, ...(o.name ? { name: o.name } : {}), prefix: o.prefix });
    if (o.output) writeFileSync(o.output, text);
    else process.stdout.write(text);
  });

let detailed = false;

async function main(): Promise<number> {
  try {
    await program.parseAsync(process.argv);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof Exit) return detailed && e.code !== EXIT.pending && e.code !== EXIT.ok ? EXIT.error : e.code;
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.error;
    const code = report(e);
    return detailed ? EXIT.error : code;
  }
}

/** One top-level handler: a user error is a message, never a stack trace. */
function report(e: unknown): number {
  if (e instanceof LabError) {
    for (const p of e.problems) err(formatProblem(p));
    err(`${e.problems.length} problem${e.problems.length === 1 ? '' : 's'} found; nothing was changed`);
    return EXIT.invalid;
  }
  if (e instanceof ApplyError) {
    err(`error: ${e.message}\nthe lab is partly applied: run 'netlab up' again after fixing the cause, or 'netlab down' to remove it`);
    return EXIT.applyFailed;
  }
  if (e instanceof ConflictError) {
    err(`error: ${e.message}`);
    return EXIT.applyFailed;
  }
  if (e instanceof LockError) {
    err(`error: ${e.message}`);
    return EXIT.locked;
  }
  if (e instanceof TeardownError || e instanceof ObserveError) {
    err(`error: ${e.message}`);
    return EXIT.applyFailed;
  }
  if (e instanceof GenerateError) {
    err(`error: ${e.message}`);
    return EXIT.error;
  }
  err(`netlab: internal error: ${(e as Error)?.stack ?? String(e)}\nplease report this with the lab file and the command`);
  return EXIT.error;
}

process.exitCode = await main();
