// cli/impair: `netlab impair LAB NODE:IFACE ...`, changing a link end's impairments while the lab
// runs (tc netem / tbf). Not written to the lab file: the next `netlab up` puts back what the
// file says, like any other drift.
import { Option, type Command } from 'commander';
import type { CommandRunner } from '../runner/runner.js';
import { CliError, EXIT } from '../core/errors.js';
import { requireRoot } from '../privileges.js';
import { HOST_NODE, resolveTarget } from '../ops/target.js';
import { checkImpairment, impairText, qdiscArgs, qdiscOf } from '../model/impair.js';
import { HOST, type Impairment } from '../model/types.js';
import { addUnique, writeJournal } from '../state/journal.js';
import { markEntered } from '../state/trust.js';
import { commandText } from '../core/shell.js';
import { acquireLock } from '../state/lock.js';

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
      const t = await resolveTarget(runner, labArg, node);
      if (t.ns === HOST && !t.journal.hostLinks.includes(dev))
        throw new CliError(`the host has no interface '${dev}' of lab ${t.lab}`, EXIT.error, `its host interfaces: ${t.journal.hostLinks.join(', ')}`);
      const tc = ['tc', ...(t.ns === HOST ? [] : ['-n', t.ns])];
      const where = `${node}:${dev}`;
      let argv: string[];
      let said: string;
      if (o.clear) {
        argv = [...tc, 'qdisc', 'del', 'dev', dev, 'root'];
        said = `${where}: impairments removed`;
      } else {
        const q = qdiscOf(impairmentOf(o));
        if (!q) throw new CliError('nothing to set', EXIT.error, 'give --delay, --jitter, --loss or --rate (and --limit), or --clear');
        const { missingFeatureText, probeFeatures } = await import('../doctor/probe.js');
        const probe = (await probeFeatures(runner, [q.kind])).get(q.kind)!;
        if (!probe.ok) throw new CliError(missingFeatureText(q.kind, probe), EXIT.unsupported);
        argv = [...tc, 'qdisc', 'replace', 'dev', dev, 'root', ...qdiscArgs(q)];
        said = `${where}: ${q.kind} ${impairText(q.impair)}`;
      }
      const release = acquireLock(t.lab);
      try {
        const r = await runner.run(argv);
        if (r.exitCode !== 0) {
          const benign = o.clear && /No such file or directory|Cannot delete qdisc with handle of zero/.test(r.stderr);
          if (!benign) throw new CliError(`${where}: command failed: ${commandText(argv)}\n  ${r.stderr.trim()}`, /Cannot find device/.test(r.stderr) ? EXIT.error : EXIT.applyFailed);
        }
        // The next up reads this namespace's qdiscs, sees the change as drift and restores the file's.
        addUnique((t.journal.impaired ??= []), [t.ns ?? '']);
        writeJournal(t.journal);
        if (t.ns !== HOST) markEntered(t.lab, t.ns);
      } finally {
        release();
      }
      out(`${said} (until the next 'netlab up ${t.file}', which restores the lab file's)`);
    });
}
