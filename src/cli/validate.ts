// cli/validate: `netlab validate FILE...`, every problem of every file, as text or JSON.
import type { Command } from 'commander';
import { EXIT, Exit, printable } from '../core/errors.js';
import { LabError, formatProblems, type Problem } from '../load/problems.js';
import type { CliDeps } from './common.js';

/** Adds `netlab validate` to the program; called once from cli/main.ts. */
export function register(program: Command, deps: CliDeps): void {
  const { out, err } = deps;
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
}
