// cli/doctor: `netlab doctor`, what this machine offers netlab (tools, privileges, kernel features):
// its options and output; doctor/report.ts gathers the facts.
import type { Command } from 'commander';
import { EXIT, Exit } from '../core/errors.js';
import type { CommandRunner } from '../runner/runner.js';

/** Adds `netlab doctor` to the program; called once from cli/main.ts. */
export function registerDoctor(program: Command, runner: CommandRunner): void {
  program
    .command('doctor')
    .description(
      'check what this machine offers netlab: tools and versions, root or capabilities, kernel features (tried for real in a throwaway namespace); exit 6 when something required is missing',
    )
    .option('--json', 'print one JSON object with the same facts')
    .action(async (o: { json?: boolean }) => {
      // The probes are loaded when doctor runs, not when netlab starts (every command registers doctor).
      const { doctor, formatDoctor } = await import('../doctor/report.js');
      const r = await doctor(runner);
      if (o.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else process.stdout.write(`${formatDoctor(r).join('\n')}\n`);
      if (!r.ok) throw new Exit(EXIT.unsupported);
    });
}
