// cli/steps: `netlab steps FILE`: a guided lab. On a terminal the interactive view (src/ui/steps-app);
// off a terminal, with --json or --batch, every step in order with its checks (exit 4 when one is not met).
import type { Command } from 'commander';
import { CliError, EXIT, Exit } from '../core/errors.js';
import { loadLabCached } from '../load/cache.js';
import { labFileOf } from '../ops/target.js';
import { requireRoot } from '../privileges.js';
import { engine, positiveInt, present, stoppable, type CliDeps } from './common.js';

/** The commands of this CLI the interactive view may run as child processes (`netlab counters ...`), when this build has them. */
const CHILD_COMMANDS = ['shell', 'trace', 'counters', 'conntrack'] as const;

/** Adds `netlab steps` to the program; called once from cli/main.ts. */
export function register(program: Command, deps: CliDeps): void {
  const { runner, out, err } = deps;
  program
    .command('steps')
    .description("walk through a guided lab's steps: on a terminal one at a time (run it, check it, open a shell, go back); off a terminal run them all and check every expectation")
    .argument('<file>', 'lab file with a steps: section')
    .option('--json', 'run every step and print one JSON document: each step, its commands and its checks')
    .option('--batch', 'run every step in order and check every expectation, even on a terminal (what it does off one)')
    .option('--step <n>', 'start the interactive walk at step N (the steps before it are replayed without their checks)', positiveInt)
    .option('--trust-verified', "pass --trust-verified to the up that each reset and variant makes (see 'netlab up')")
    .action(async (file: string, o: { json?: boolean; batch?: boolean; step?: number; trustVerified?: boolean }) => {
      requireRoot('steps');
      const lab = await loadLabCached(labFileOf(file));
      const steps = lab.steps ?? [];
      if (!steps.length) throw new CliError(`lab ${lab.name} has no steps`, EXIT.error, "add a 'steps:' section to the lab file (docs/lab-file.md, Steps)");
      if (o.step !== undefined && o.step > steps.length) throw new CliError(`--step ${o.step}: lab ${lab.name} has ${steps.length} step${steps.length === 1 ? '' : 's'}`, EXIT.error);
      const { requireFeatures } = await engine();
      for (const l of [lab, ...(lab.variants?.values() ?? [])]) await requireFeatures(runner, l);
      const tty = process.stdin.isTTY && process.stdout.isTTY && process.env.CI !== 'true' && process.env.TERM !== 'dumb';
      if (tty && !o.json && !o.batch) {
        const have = new Set(program.commands.map((c) => c.name()));
        const { interactive } = await import('../ui/steps-app.js');
        const finished = await interactive(runner, lab, {
          start: (o.step ?? 1) - 1,
          trustVerified: !!o.trustVerified,
          // The same CLI as a child: node and this script (the bundle, or dist/src/cli/main.js).
          self: [process.execPath, ...process.execArgv, process.argv[1]!],
          commands: CHILD_COMMANDS.filter((c) => have.has(c)),
        });
        if (!finished) process.exit(EXIT.interrupted);
        return;
      }
      const { batchSteps } = await import('../ui/steps.js');
      const r = await stoppable(err, (signal) => batchSteps(runner, lab, { json: !!o.json, signal, trustVerified: !!o.trustVerified }), lab.name);
      if (o.json) out(JSON.stringify((await present()).stepsJson(lab, r), null, 2));
      if (!r.met) throw new Exit(EXIT.checksFailed);
    });
}
