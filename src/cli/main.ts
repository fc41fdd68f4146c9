#!/usr/bin/env node
// cli: the command line. Each verb is a file of its own (cli/VERB.ts, its options and action);
// here the program, their registration, and the one handler that maps errors to the documented
// exit codes. Ctrl-C is handled in cli/common.ts and passed to the engine.
import { Command, CommanderError } from 'commander';
import { EXIT, Exit } from '../core/errors.js';
import { HELPERS_DIR } from '../paths.js';
import { ProcessRunner } from '../runner/runner.js';
import { register as registerCheck } from './check.js';
import { report, type CliDeps } from './common.js';
import { registerCompletion } from './completion.js';
import { register as registerConntrack } from './conntrack.js';
import { register as registerCounters } from './counters.js';
import { registerDoctor } from './doctor.js';
import { register as registerDown } from './down.js';
import { register as registerGc } from './gc.js';
import { register as registerGenerate } from './generate.js';
import { addHelp } from './help.js';
import { registerImpair } from './impair.js';
import { registerInstances } from './instance.js';
import { registerAcross } from './hosts.js';
import { register as registerLogs } from './logs.js';
import { registerOps } from './ops.js';
import { register as registerPlan } from './plan.js';
import { register as registerStatus } from './status.js';
import { register as registerSteps } from './steps.js';
import { register as registerTrace } from './trace.js';
import { register as registerUp } from './up.js';
import { register as registerValidate } from './validate.js';

const runner = new ProcessRunner();
// Helpers that ship with netlab (e.g. origdst-echo.py), for lab processes and exec checks: $NETLAB_HELPERS.
process.env.NETLAB_HELPERS ??= HELPERS_DIR;
const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);
const deps: CliDeps = { runner, out, err };

const program = new Command();
program.name('netlab').description('Declarative Linux network-namespace labs: validate, plan, up, down').version('0.1.0').showHelpAfterError('(run netlab --help for usage)').exitOverride();

// The order here is the order of `netlab --help`.
for (const register of [
  registerValidate,
  registerPlan,
  registerUp,
  registerCheck,
  registerSteps,
  registerLogs,
  registerTrace,
  registerCounters,
  registerConntrack,
  registerDown,
  registerGc,
  registerStatus,
  registerGenerate,
])
  register(program, deps);

registerOps(program, runner);
registerDoctor(program, runner);
registerImpair(program, runner, out);
registerCompletion(program, out);
addHelp(program);
registerInstances(program, deps);
registerAcross(program, deps);

// A reader that goes away (netlab plan FILE | head -1: EPIPE) ends the output, quietly: the rest
// is not written, and the command still finishes what it does (an `up` is not left half-way).
// The same for any other write error on them: there is nowhere left to report it.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

async function main(): Promise<number> {
  try {
    await program.parseAsync(process.argv);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof Exit) return e.code;
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.error;
    return report(err, e);
  }
}

process.exitCode = await main();
// Done: exit as soon as stdout and stderr have taken what was written to them, instead of waiting
// for the event loop to wind down (a last garbage collection, handles closing).
let streams = 2;
for (const stream of [process.stdout, process.stderr]) stream.write('', () => --streams || process.exit());
