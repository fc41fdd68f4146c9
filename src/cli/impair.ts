// cli/impair: the options of `netlab impair LAB NODE:IFACE ...`; the engine (src/engine/impair.ts)
// changes the link end's impairments while the lab runs. The next `netlab up` puts back the file's.
import { Option, type Command } from 'commander';
import type { CommandRunner } from '../runner/runner.js';
import { CliError, EXIT } from '../core/errors.js';
import { requireRoot } from '../privileges.js';
import { HOST_NODE } from '../ops/target.js';
import { checkImpairment } from '../model/impair.js';
import type { Impairment } from '../model/types.js';

interface ImpairOptions {
  delay?: string;
  jitter?: string;
  loss?: string;
  rate?: string;
  limit?: string;
  clear?: boolean;
}

/** The options as an Impairment, or a CliError naming the bad value (the lab file's rules). */
export function impairmentOf(o: ImpairOptions): Impairment {
  const limit = o.limit === undefined ? undefined : /^\d+$/.test(o.limit) ? Number(o.limit) : NaN;
  const raw = {
    ...(o.delay !== undefined ? { delay: o.delay } : {}),
    ...(o.jitter !== undefined ? { jitter: o.jitter } : {}),
    ...(o.rate !== undefined ? { rate: o.rate } : {}),
    ...(o.loss !== undefined ? { loss: /%$/.test(o.loss) ? o.loss : `${o.loss}%` } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
  const { impair, problems } = checkImpairment(raw);
  const p = problems[0];
  if (!p) return impair ?? {};
  // In flags' words: "--delay 100: not a valid value", "--jitter needs --delay".
  const needs = /^(\w+) needs a (\w+)$/.exec(p.message);
  const message = needs ? `--${needs[1]} needs --${needs[2]}` : `--${p.field} ${o[p.field] ?? ''}: ${p.message.startsWith('invalid') ? 'not a valid value' : p.message}`;
  throw new CliError(message, EXIT.error, p.hint.replace(/\b(delay|jitter|loss|rate|limit): (?=\d)/g, '--$1 '));
}

export function registerImpair(program: Command, runner: CommandRunner, out: (s: string) => void): void {
  program
    .command('impair')
    .description("change a link end's impairments while the lab runs (tc netem; tbf for a rate alone); the next 'up' restores the lab file's")
    .argument('<lab>', 'lab name or lab file (the lab must be up)')
    .argument('<end>', `NODE:IFACE, the link end whose egress is impaired (${HOST_NODE}:IFACE for a host-side veth end)`)
    .option('--delay <time>', 'delay every packet, e.g. 100ms')
    .option('--jitter <time>', 'vary the delay by up to this much, e.g. 10ms (needs --delay)')
    .option('--loss <percent>', 'drop this share of packets, e.g. 1%')
    .option('--rate <rate>', 'limit the rate, e.g. 10mbit')
    .option('--limit <packets>', 'queue length in packets')
    .addOption(new Option('--clear', 'remove every impairment from the interface').conflicts(['delay', 'jitter', 'loss', 'rate', 'limit']))
    .action(async (labArg: string, end: string, o: ImpairOptions) => {
      requireRoot('impair');
      const colon = end.indexOf(':');
      if (colon <= 0 || colon === end.length - 1) throw new CliError(`'${end}' is not NODE:IFACE`, EXIT.error, 'e.g. netlab impair LAB site-a:wan0 --delay 100ms');
      const node = end.slice(0, colon);
      const dev = end.slice(colon + 1);
      const { impair } = await import('../engine/impair.js');
      const { said, file } = await impair(runner, labArg, node, dev, o.clear ? { clear: true } : { impair: () => impairmentOf(o) });
      out(`${said} (until the next 'netlab up ${file}', which restores the lab file's)`);
    });
}
