// cli/logs: `netlab logs LAB [PROCESS]`: the output of the lab's processes, from their log files.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { EXIT, Exit } from '../core/errors.js';
import { labNameOf } from '../ops/target.js';
import { readJournal } from '../state/journal.js';
import { positiveInt, type CliDeps } from './common.js';

/** Adds `netlab logs` to the program; called once from cli/main.ts. */
export function register(program: Command, deps: CliDeps): void {
  const { out, err } = deps;
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
}
