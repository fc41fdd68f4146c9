#!/usr/bin/env node
// cli: the command line. Parses each verb's options, calls the engine, prints, and maps errors to
// the documented exit codes in one handler; Ctrl-C is handled here and passed to the engine.
import { readFileSync, writeFileSync } from 'node:fs';
import { HELPERS_DIR } from '../paths.js';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { LabError, formatProblems, type Problem } from '../load/problems.js';
import { loadLabCached } from '../load/cache.js';
import { ProcessRunner } from '../runner/runner.js';
import { readJournal, scanJournals, stateDirError } from '../state/journal.js';
import type { Topology } from '../generate.js';
import { CliError, EXIT, Exit, printable } from '../core/errors.js';
import { requireRoot } from '../privileges.js';
import { registerOps } from './ops.js';
import { labFileOf, labNameOf } from '../ops/target.js';
import { down } from '../engine/down.js';
import { registerDoctor } from './doctor.js';
import { registerImpair } from './impair.js';
import { registerCompletion } from './completion.js';
import { addHelp } from './help.js';

// The planner, the plan's presentation and the terminal UI are loaded by the commands that use
// them, when they run: `down`, `logs`, `validate` or `generate` load none of them.
const engine = () => import('../engine.js');
const present = () => import('./present.js');
/** The terminal UI (Ink, React, listr2) is loaded only by the commands that draw it. */
const ui = () => import('../ui/session.js');

const runner = new ProcessRunner();
// Helpers that ship with netlab (e.g. origdst-echo.py), for lab processes and exec checks: $NETLAB_HELPERS.
process.env.NETLAB_HELPERS ??= HELPERS_DIR;
const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

function requireUp(lab: string, file: string): void {
  if (readJournal(lab)) return;
  err(`lab ${lab} is not up: run 'netlab up ${file}' first`);
  throw new Exit(EXIT.applyFailed);
}

/**
 * Signals are the CLI's: Ctrl-C asks the engine to stop (its AbortSignal). `up` and `check` let go
 * at once (the view restores the terminal, the lock is released; the journal is written before
 * every phase): the CLI says where the lab stands and exits. trace first removes its trace tables,
 * then throws Exit(130), on which the CLI exits without waiting for the probe.
 */
async function stoppable<T>(run: (signal: AbortSignal) => Promise<T>, lab?: string): Promise<T> {
  const stop = new AbortController();
  const onInt = () => {
    stop.abort();
    if (lab === undefined) return;
    err(`\ninterrupted: the journal is up to date; 'netlab up' converges from here, 'netlab down ${lab}' removes the lab`);
    process.exit(EXIT.interrupted);
  };
  process.once('SIGINT', onInt);
  try {
    return await run(stop.signal);
  } catch (e) {
    if (stop.signal.aborted && e instanceof Exit && e.code === EXIT.interrupted) process.exit(e.code);
    throw e;
  } finally {
    process.removeListener('SIGINT', onInt);
  }
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
};

const program = new Command();
program.name('netlab').description('Declarative Linux network-namespace labs: validate, plan, up, down').version('0.1.0').showHelpAfterError('(run netlab --help for usage)').exitOverride();

program
  .command('validate')
  .description('check lab files against the schema and the semantic rules; print every problem')
  .argument('<file...>', 'lab files')
  .option('--json', 'print problems as JSON')
  .action(async (files: string[], o: { json?: boolean }) => {
    let problems: Problem[] = [];
    for (const f of files) {
      try {
        (await import('../load/lab.js')).loadLabFile(f);
        if (!o.json) out(`${printable(f)}: ok`);
      } catch (e) {
        if (!(e instanceof LabError)) throw e;
        problems = problems.concat(e.problems);
      }
    }
    if (o.json) out(JSON.stringify({ valid: problems.length === 0, problems }, null, 2));
    else for (const l of formatProblems(problems)) err(l);
    if (problems.length) {
      if (!o.json) err(`${problems.length} problem${problems.length === 1 ? '' : 's'} found`);
      throw new Exit(EXIT.invalid);
    }
  });

program
  .command('plan')
  .description('show what up would change, without changing anything')
  .argument('<file>', 'lab file, or the name of a lab that is up')
  .option('--commands', 'also print the exact commands, as a pasteable shell script')
  .option('--json', 'print the plan as JSON')
  .option('--detailed-exitcode', 'exit 0 when there is nothing to do, 2 when changes are pending, 1 on any error')
  .action(async (file: string, o: { commands?: boolean; json?: boolean; detailedExitcode?: boolean }) => {
    requireRoot('plan');
    detailed = !!o.detailedExitcode;
    const { planLab, conflictText } = await engine();
    const show = await present();
    const p = await planLab(runner, await loadLabCached(labFileOf(file)));
    if (o.json) out(JSON.stringify(show.planJson(p), null, 2));
    else {
      out(`lab ${p.lab.name}: ${show.summary(p)}`);
      for (const n of p.notes) err(`note: ${n}`);
      for (const l of show.changeLines(p)) out(l);
      if (p.plan.conflicts.length) err(`\nup would refuse:\n${conflictText(p.plan)}`);
      if (o.commands && p.steps.length) out(`\n${show.script(p)}`);
    }
    if (p.plan.conflicts.length) throw new Exit(EXIT.applyFailed);
    if (o.detailedExitcode && p.plan.actions.length) throw new Exit(EXIT.pending);
  });

program
  .command('up')
  .description('create or update the lab so that the kernel matches the file (only the difference is applied), then run its checks')
  .argument('<file>', 'lab file, or the name of a lab that is up')
  .option('--dry-run', 'print the commands that would run, change nothing')
  .option('--no-checks', "skip the lab's checks")
  .option(
    '--trust-verified',
    'do not read again the lab namespaces up verified before, unchanged in the file and not entered by netlab exec/shell/impair since (faster; misses changes made by hand inside them)',
  )
  // Reading every namespace is the default now: --refresh stays accepted, for scripts.
  .addOption(new Option('--refresh').hideHelp())
  .option('--json', 'print only JSON: the changes, the commands, the check results, and the lab namespaces read (read) and not read (notRead)')
  .action(async (file: string, o: { dryRun?: boolean; json?: boolean; checks: boolean; trustVerified?: boolean; refresh?: boolean }) => {
    const trust = !!o.trustVerified && !o.refresh;
    requireRoot('up');
    const lab = await loadLabCached(labFileOf(file));
    const { requireFeatures, planLab, planText, conflictText, UnsupportedError } = await engine();
    const show = await present();
    if (o.dryRun) {
      // A dry run shows the commands even where the kernel could not run them, and says so.
      await requireFeatures(runner, lab).catch((e: unknown) => {
        if (!(e instanceof UnsupportedError)) throw e;
        err(`warning: ${e.message.replace('; nothing was changed', '')}`);
      });
      const p = await planLab(runner, lab, { trust });
      if (o.json) out(JSON.stringify(show.planJson(p), null, 2));
      else {
        out(`# lab ${lab.name}: ${planText(p)} (dry run: nothing was changed)`);
        for (const n of p.notes) err(`note: ${n}`);
        if (p.steps.length) out(show.script(p));
      }
      if (p.plan.conflicts.length) {
        err(conflictText(p.plan));
        throw new Exit(EXIT.applyFailed);
      }
      return;
    }
    await requireFeatures(runner, lab);
    const r = await stoppable(async (signal) => (await ui()).session(runner, lab, { apply: true, checks: o.checks, json: !!o.json, trustVerified: trust, signal }), lab.name);
    if (o.json) out(JSON.stringify({ ...(r.planned ? show.planJson(r.planned) : { lab: lab.name }), applied: r.applied, ms: r.ms, checks: show.checksJson(r.checks), met: r.met }, null, 2));
    if (!r.met) throw new Exit(EXIT.checksFailed);
  });

program
  .command('check')
  .description('run the checks of a lab that is up: each ping, tcp, udp, exec, reach and trace check against its expectation')
  .argument('<file>', 'lab file, or the name of a lab that is up')
  .option('--json', 'print one JSON document with every check')
  .action(async (file: string, o: { json?: boolean }) => {
    requireRoot('check');
    const lab = await loadLabCached(labFileOf(file));
    requireUp(lab.name, file);
    if (lab.checks.length === 0) {
      if (o.json) out(JSON.stringify({ lab: lab.name, checks: [], met: true }, null, 2));
      else out(`lab ${lab.name} declares no checks`);
      return;
    }
    const r = await stoppable(async (signal) => (await ui()).session(runner, lab, { apply: false, checks: true, json: !!o.json, signal }), lab.name);
    if (o.json) out(JSON.stringify({ lab: lab.name, checks: (await present()).checksJson(r.checks), met: r.met, ms: r.ms }, null, 2));
    if (!r.met) throw new Exit(EXIT.checksFailed);
  });

program
  .command('logs')
  .description('print the output of the processes a lab started in its nodes')
  .argument('<lab>', 'lab file or lab name')
  .argument('[process]', 'NODE or NODE/NAME (default: every process)')
  .option('-n, --lines <n>', 'only the last N lines of each', positiveInt)
  .action(async (arg: string, which: string | undefined, o: { lines?: number }) => {
    const name = await labNameOf(arg);
    const j = readJournal(name);
    const procs = Object.entries(j?.processes ?? {}).filter(([k]) => !which || k === which || k.startsWith(`${which}/`));
    if (!j) {
      err(`lab ${name} is not up`);
      throw new Exit(EXIT.error);
    }
    if (!procs.length) {
      err(which ? `lab ${name} has no process ${which}` : `lab ${name} started no processes`);
      throw new Exit(EXIT.error);
    }
    for (const [key, rec] of procs) {
      let text = '';
      try {
        text = readFileSync(rec.log, 'utf8');
      } catch {
        text = '(no output yet)\n';
      }
      const lines = text.replace(/\n$/, '').split('\n');
      out(`==> ${key} (pid ${rec.pid}): ${rec.argv.join(' ')} <==`);
      out((o.lines ? lines.slice(-o.lines) : lines).join('\n'));
    }
  });

program
  .command('trace')
  .description("send one probe and show the packet's path through netfilter in every namespace of the lab: hook, table/chain, rule, verdict")
  .argument('<file>', 'lab file or lab name (the lab must be up)')
  .requiredOption('--from <node>', 'node that sends the probe')
  .requiredOption('--to <address>', 'destination address')
  .addOption(new Option('--proto <proto>', 'probe protocol').choices(['icmp', 'tcp', 'udp']).default('icmp'))
  .option('--port <n>', 'destination port (tcp, udp)', positiveInt)
  .option('--json', 'print the path as JSON')
  .action(async (file: string, o: { from: string; to: string; proto: 'icmp' | 'tcp' | 'udp'; port?: number; json?: boolean }) => {
    requireRoot('trace');
    const lab = await loadLabCached(labFileOf(file));
    requireUp(lab.name, file);
    const { trace, formatTrace } = await import('../engine/trace.js');
    const r = await stoppable((signal) => trace(runner, lab, { from: o.from, to: o.to, proto: o.proto, ...(o.port ? { port: o.port } : {}), signal }));
    if (o.json) out(JSON.stringify(r, null, 2));
    else {
      out(`trace ${o.proto}${o.port ? `/${o.port}` : ''} ${o.from} -> ${r.to}: probe ${r.probe.ok ? 'answered' : 'not answered'}`);
      for (const l of formatTrace(r.hops, r.outcome)) out(l);
    }
  });

program
  .command('down')
  .description('remove everything the lab made, from its journal (works after the file was edited or deleted)')
  .argument('[lab]', 'lab file or lab name')
  .option('--all', 'take down every lab netlab has a journal for')
  .option('--dry-run', 'print the commands that would run, change nothing')
  .option('--json', 'one JSON document: per lab, what was removed and what was left alone and why')
  .action(async (arg: string | undefined, o: { dryRun?: boolean; all?: boolean; json?: boolean }) => {
    requireRoot('down');
    const docs: unknown[] = [];
    const say = (line: string) => !o.json && out(line);
    if (!!arg === !!o.all) throw new CliError(o.all ? 'give a lab or --all, not both' : 'which lab? give a lab file or name, or --all', EXIT.error, 'netlab status lists the labs that are up');
    const scan = o.all ? scanJournals() : undefined;
    const names = scan ? scan.journals.map((j) => j.lab) : [await labNameOf(arg!)];
    if (scan && !names.length && !scan.damaged.length) say('no lab is up: nothing to remove');
    // A damaged journal keeps its lab up (said, with the fix); every other lab goes down.
    for (const d of scan?.damaged ?? []) report(d);
    let failed = scan?.damaged.length ?? 0;
    for (const name of names) {
      const t0 = performance.now();
      try {
        const r = await down(runner, name, o.dryRun ? { dryRun: true } : {});
        if (!r) {
          say(`lab ${name} is not up: nothing to remove`);
          docs.push({ lab: name, wasUp: false });
          continue;
        }
        const ms = Math.round(performance.now() - t0);
        const { commands, left, ...removed } = r;
        docs.push({ lab: name, wasUp: true, ...(o.dryRun ? { dryRun: true, commands } : { removed }), left, ms });
        if (o.dryRun) {
          say(`# lab ${name}: down (dry run: nothing was changed)`);
          for (const c of commands) say(c);
          for (const l of left) say(`# would leave alone: ${l.object}: ${l.why}; it is not this lab's`);
          continue;
        }
        // Left alone is not a failure: everything of the lab's own is gone.
        for (const l of left) say(`left alone: ${l.object}: ${l.why}; it is not this lab's`);
        say(
          `lab ${name} is down: stopped ${r.processes} process(es), removed ${r.namespaces.length} namespace(s), ${r.hostLinks.length} host link(s), ${r.hostRules} host iptables rule(s), restored ${r.sysctls.length} host sysctl(s)${left.length ? `; left ${left.length} object(s) that are not its own` : ''} (${ms} ms)`,
        );
      } catch (e) {
        // With --all, one lab that cannot go down does not keep the others up.
        if (!o.all) throw e;
        failed++;
        report(e);
      }
    }
    if (o.json) out(JSON.stringify({ labs: docs }, null, 2));
    if (failed) throw new Exit(EXIT.applyFailed);
  });

program
  .command('gc')
  .description(
    "remove what carries netlab's mark but belongs to no lab's journal (namespaces, host links, host iptables rules), and journals whose objects are all gone; never touches anything unmarked",
  )
  .argument('[lab...]', "only these labs' orphans, journals and locks (lab names or files; default: every lab's)")
  .option('--dry-run', 'list what would be removed and the commands, change nothing')
  .action(async (args: string[], o: { dryRun?: boolean }) => {
    requireRoot('gc');
    const { gc } = await import('../engine/gc.js');
    const labs = await Promise.all(args.map(labNameOf)); // a name that cannot be a lab's is refused there
    const r = await gc(runner, { ...(o.dryRun ? { dryRun: true } : {}), ...(labs.length ? { labs: new Set(labs) } : {}) });
    const what = [
      ...r.namespaces.map((n) => `namespace ${n.name} (marked by lab ${n.lab}${n.pids.length ? `, ${n.pids.length} process(es) in it` : ''})`),
      ...r.hostLinks.map((l) => `host interface ${l.name} (marked by lab ${l.lab})`),
      ...r.hostRules.map((x) => `${x.family === 'ipv4' ? 'iptables' : 'ip6tables'} -t ${x.table} -A ${x.chain} ${x.spec} (lab ${x.lab})`),
      ...r.journals.map((l) => `journal of lab ${l} (everything it lists is gone)`),
      ...r.droppedTables.map((t) => `nft table ${t} (left empty by the rules removed${o.dryRun ? ', if nothing else is in it' : ''})`),
      ...r.logs.map((l) => `process logs of lab ${l} (its journal is gone)`),
      ...r.damaged.filter((d) => d.removed).map((d) => `damaged journal of lab ${d.lab}: ${d.path} (${d.reason})`),
    ];
    for (const d of r.damaged.filter((x) => !x.removed))
      err(`left alone: the journal of lab ${d.lab} is damaged: ${d.path}: ${d.reason}\n  hint: check the file, then 'netlab gc ${d.lab}' removes what carries lab ${d.lab}'s mark, and the file`);
    if (!what.length) {
      out(labs.length ? `nothing to collect for lab ${labs.join(', ')}: no orphan object and no journal left without objects` : 'nothing to collect: every marked object belongs to a lab that is up');
      return;
    }
    out(`${o.dryRun ? 'would remove' : 'removed'} ${what.length} orphan(s):\n  ${what.join('\n  ')}`);
    if (o.dryRun) for (const c of r.commands) out(c);
  });

program
  .command('status')
  .description('labs that are up, their nodes and links, and whether the kernel still matches the file')
  .argument('[lab]', 'lab name or file (default: every lab)')
  .option('--json', 'print as JSON')
  .action(async (arg: string | undefined, o: { json?: boolean }) => {
    requireRoot('status');
    const { status } = await import('../engine/status.js');
    const scan = await status(runner, arg ? await labNameOf(arg) : undefined);
    const labs = scan.labs;
    if (arg && labs.length === 0) {
      if (o.json) out(JSON.stringify({ labs: [] }));
      else out(`lab ${arg} is not up`);
      return;
    }
    const damaged = scan.damaged.map((d) => ({ lab: d.lab, journal: d.path, status: 'damaged' as const, error: d.reason, hint: d.hint }));
    if (o.json) {
      out(JSON.stringify({ labs, ...(damaged.length ? { damaged } : {}) }, null, 2));
      return;
    }
    if (!labs.length && !damaged.length) out('no labs are up');
    for (const l of labs) {
      const state = l.drift === null ? `drift unknown: ${l.note}` : l.drift === 0 ? 'matches the file' : `${l.drift} difference(s) from the file (netlab plan ${l.file})`;
      out(`${l.lab}  ${l.status}  ${l.nodes.length} node(s), ${l.hostLinks.length} host link(s)  ${state}`);
      out(`  file:  ${l.file}`);
      if (l.nodes.length) out(`  nodes: ${l.nodes.join(' ')}`);
      if (l.hostLinks.length) out(`  host:  ${l.hostLinks.join(' ')}`);
    }
    for (const d of scan.damaged) err(d.text());
  });

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
  .action(async (topology: Topology, n: number | undefined, o: { depth: number; fanout: number; name?: string; prefix: string; output?: string }) => {
    const { generate, GenerateError } = await import('../generate.js');
    if (topology !== 'tree' && n === undefined) throw new GenerateError(`generate ${topology} needs a number of nodes, e.g. netlab generate ${topology} 4`);
    const text = generate({ topology, n: n ?? 0, depth: o.depth, fanout: o.fanout, ...(o.name ? { name: o.name } : {}), prefix: o.prefix, output: o.output });
    if (o.output) writeFileSync(o.output, text);
    else process.stdout.write(text);
  });

registerOps(program, runner);
registerDoctor(program, runner);
registerImpair(program, runner, out);
registerCompletion(program, out);
addHelp(program);

let detailed = false;

// A reader that goes away (netlab plan FILE | head -1: EPIPE) ends the output, quietly: the rest
// is not written, and the command still finishes what it does (an `up` is not left half-way).
// The same for any other write error on them: there is nowhere left to report it.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

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

/** One top-level handler: a user error is a message with its exit code, never a stack trace. */
function report(e: unknown): number {
  e = stateDirError(e) ?? e;
  if (e instanceof CliError) {
    err(e.text());
    return e.code;
  }
  err(`netlab: internal error: ${(e as Error)?.stack ?? String(e)}\nplease report this with the lab file and the command`);
  return EXIT.error;
}

process.exitCode = await main();
