// The receipt of the batch that creates a lab's namespaces, written by the batch's own shell.
//
// A namespace exists unmarked from its `ip netns add` until the configure phase marks its lo, and
// marking it in the creating batch would cost a process per namespace (`netns exec`).
// Its claim in the journal proves nothing: a lab that lost the race for the name, or a human, may
// have made the namespace of that name. What proves it is the batch's own outcome: `ip netns add`
// succeeds only for a name that did not exist. So the batch runs in a small shell that writes
// that outcome and the identities of the namespaces to files next to the journal, whatever
// happens to netlab meanwhile (kill -9 kills netlab, not its children). Whoever holds the lab's
// lock next (this up when the batch returns, or a later up or down) reads the receipt and
// records the namespaces that line by line were created, with their identity.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NETNS_DIR } from '../model/types.js';
import type { NsId } from '../model/ownership.js';
import { dropClaims, recordOwned, writeJournal } from '../state/journal.js';
import type { Journal } from '../model/journal.js';
import { stateDir } from '../core/state.js';
import type { Step } from '../render/render.js';
import { commandText } from '../core/shell.js';
import { sleep } from '../core/time.js';

export const receiptDir = (lab: string) => join(stateDir(), 'created', lab);

/** The shell's $0: how a running one is told from another process that got its pid. */
const ARG0 = 'netlab-netns-add';

// $1: the receipt directory; then the namespaces, in the order of the batch's lines. The
// identities are read right after the batch, by the same shell; the status is written last.
const SCRIPT = `d=$1; shift; echo $$ >"$d/pid"; printf '%s\\n' "$@" >"$d/names"; ip -batch - 2>"$d/err"; rc=$?; (cd ${NETNS_DIR} && stat -c '%n %i %.9Y' -- "$@") >"$d/ids" 2>/dev/null; echo $rc >"$d/rc"; cat "$d/err" >&2; exit $rc`;

/** The namespaces step, run so that it leaves a receipt; it reads as the plain batch. */
export function withReceipt(step: Step, lab: string): Step {
  const names = step.lines.map((a) => a.ns);
  const dir = receiptDir(lab);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return { ...step, argv: ['sh', '-c', SCRIPT, ARG0, dir, ...names], display: step.display ?? commandText(step.argv, step.input) };
}

export interface Receipt {
  /** Namespaces the batch created, with the identity read right after. */
  created: Map<string, NsId>;
  /** Namespaces whose line failed or never ran: not the lab's. */
  failed: string[];
}

/** Parses a receipt's files (pure): names in line order, the batch's exit status and stderr, `stat` lines. */
export function parseReceipt(names: string[], rc: number, err: string, ids: string): Receipt {
  const m = /Command failed -:(\d+)/.exec(err);
  const ok = rc === 0 ? names.length : m ? Number(m[1]) - 1 : 0;
  const seen = new Map<string, NsId>();
  for (const line of ids.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length === 3 && /^\d+$/.test(f[1]!)) seen.set(f[0]!, { ino: Number(f[1]), mtime: f[2]! });
  }
  const created = new Map<string, NsId>();
  for (const n of names.slice(0, ok)) {
    const id = seen.get(n);
    if (id) created.set(n, id);
  }
  return { created, failed: names.slice(ok) };
}

/** The shell that writes the receipt is still running (its pid, and its $0 in its command line). */
function running(pidText: string): boolean {
  const pid = Number(pidText.trim());
  try {
    return pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(ARG0);
  } catch {
    return false;
  }
}

/**
 * Takes the lab's receipt, if one is left, into its journal: the namespaces created become the
 * lab's with their identity, the claims of the others are dropped. A batch still running (its
 * netlab was killed a moment ago; on a busy machine 50 `netns add` can take seconds) is waited
 * for while its shell lives, at most `maxMs`; one that never ends leaves its claims unproven.
 * Writes the journal when it changed, and says whether it did.
 */
export async function takeReceipt(j: Journal, maxMs = 60_000): Promise<boolean> {
  const dir = receiptDir(j.lab);
  const file = (f: string) => join(dir, f);
  const read = (f: string) => (existsSync(file(f)) ? readFileSync(file(f), 'utf8') : '');
  // No names yet: no batch ran (its shell writes them first). The directory is left as it is: a
  // shell about to write them, orphaned by a kill, finds it gone and runs no batch at all.
  if (!existsSync(file('names'))) return false;
  const end = Date.now() + maxMs;
  while (!existsSync(file('rc')) && running(read('pid')) && Date.now() < end) await sleep(10);
  const rcText = read('rc').trim();
  if (!rcText) return false;
  const r = parseReceipt(read('names').split('\n').filter(Boolean), Number(rcText), read('err'), read('ids'));
  recordOwned(j, r.created, new Map());
  dropClaims(j, r.failed, []);
  // The journal holds the identities before the receipt goes: a kill in between loses neither.
  writeJournal(j);
  rmSync(dir, { recursive: true, force: true });
  return true;
}
