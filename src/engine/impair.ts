// engine/impair: `netlab impair`, changing a link end's impairments while the lab runs (tc netem /
// tbf), under the lab's lock. Not written to the lab file: the journal notes the namespace, so
// that the next `up` reads it, sees the change as drift and puts back what the file says.
import { commandText } from '../core/shell.js';
import { CliError, EXIT } from '../core/errors.js';
import { impairText, qdiscArgs, qdiscOf } from '../model/impair.js';
import { HOST, type Impairment } from '../model/types.js';
import { resolveTarget } from '../ops/target.js';
import type { CommandRunner } from '../runner/runner.js';
import { addUnique, writeJournal } from '../state/journal.js';
import { acquireLock } from '../state/lock.js';
import { markEntered } from '../state/trust.js';

/**
 * Sets (or with `clear`, removes) the impairments of interface `dev` of `node` in lab `labArg`
 * (a name or file). `impair` is read once the target is known (an unknown lab is said before a bad
 * value). Returns what was done, as "NODE:IFACE: netem delay 100ms", and the lab file.
 */
export async function impair(runner: CommandRunner, labArg: string, node: string, dev: string, what: { clear: true } | { impair: () => Impairment }): Promise<{ said: string; file: string }> {
  const t = await resolveTarget(runner, labArg, node);
  if (t.ns === HOST && !t.journal.hostLinks.includes(dev))
    throw new CliError(`the host has no interface '${dev}' of lab ${t.lab}`, EXIT.error, `its host interfaces: ${t.journal.hostLinks.join(', ')}`);
  const tc = ['tc', ...(t.ns === HOST ? [] : ['-n', t.ns])];
  const where = `${node}:${dev}`;
  let argv: string[];
  let said: string;
  if ('clear' in what) {
    argv = [...tc, 'qdisc', 'del', 'dev', dev, 'root'];
    said = `${where}: impairments removed`;
  } else {
    const q = qdiscOf(what.impair());
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
      const benign = 'clear' in what && /No such file or directory|Cannot delete qdisc with handle of zero/.test(r.stderr);
      if (!benign) throw new CliError(`${where}: command failed: ${commandText(argv)}\n  ${r.stderr.trim()}`, /Cannot find device/.test(r.stderr) ? EXIT.error : EXIT.applyFailed);
    }
    // The next up reads this namespace's qdiscs, sees the change as drift and restores the file's.
    addUnique((t.journal.impaired ??= []), [t.ns]);
    writeJournal(t.journal);
    if (t.ns !== HOST) markEntered(t.lab, t.ns);
  } finally {
    release();
  }
  return { said, file: t.file };
}
