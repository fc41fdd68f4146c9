// ops/target: LAB NODE on the command line -> the network namespace to run in. A lab is up when
// its journal exists; the journal lists the namespaces it made, one per node, named after the
// node. The host's root namespace is reachable as the pseudo-node @host when the lab has host
// interfaces (bridges and their ports), so `capture LAB @host br1` sees a host bridge.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { loadLabCached } from '../load/cache.js';
import { didYouMean } from '../load/problems.js';
import { isLabName, listJournals, readJournal } from '../state/journal.js';
import type { Journal } from '../model/journal.js';
import type { CommandRunner } from '../runner/runner.js';
import { CliError, EXIT } from '../core/errors.js';
import { HOST, HOST_NODE } from '../model/types.js';

export { HOST_NODE };

export interface Target {
  lab: string;
  /** The lab file the journal names (absolute). */
  file: string;
  /** The node as given (a node name or @host). */
  node: string;
  /** Network namespace to enter; HOST: the host's root namespace (no `ip netns exec`). */
  ns: string;
  journal: Journal;
}

const looksLikeFile = (arg: string) => /\.ya?ml$/.test(arg) || arg.includes('/');

/**
 * plan, up, check and trace take a lab file, or the name of a lab that is up (its journal names
 * the file it came from). A name that is neither says which file to pass.
 */
export function labFileOf(arg: string): string {
  if (looksLikeFile(arg) || existsSync(arg)) return arg;
  const j = readJournal(arg);
  if (j?.file) return j.file;
  const guess = ['labs', '.'].map((d) => join(d, `${arg}.yaml`)).find((f) => existsSync(f));
  throw new CliError(
    `no lab file '${arg}', and no lab named '${arg}' is up`,
    EXIT.invalid,
    guess ? `pass the lab file: ${guess}` : `pass the lab file (e.g. labs/${arg}.yaml); 'netlab status' lists the labs that are up`,
  );
}

/**
 * Like `netlab down`: a lab name, or a lab file: the lab that is up from that file (its journal
 * names the file; the file may since be edited, broken or deleted), else the name in the file.
 */
export async function labNameOf(arg: string): Promise<string> {
  if (!looksLikeFile(arg)) {
    if (!isLabName(arg)) throw new CliError(`not a lab name: ${arg}`, EXIT.error, 'a lab name is 1-32 letters, digits, - and _ (or give the lab file)');
    return arg;
  }
  const abs = resolve(arg);
  const j = listJournals().find((x) => x.file === abs);
  if (j) return j.lab;
  return (await loadLabCached(arg)).name; // a LabError: printed as the usual problems, exit 2
}

/** The journal of a lab that is up, or a CliError (exit 3) saying how to bring it up. */
export async function upJournal(arg: string): Promise<Journal> {
  const lab = await labNameOf(arg);
  const j = readJournal(lab);
  if (j) return j;
  const up = listJournals().map((x) => x.lab);
  const file = looksLikeFile(arg) ? arg : 'FILE';
  const hint = [`run 'netlab up ${file}' first`, up.length ? (didYouMean(lab, up) ?? `labs that are up: ${up.join(', ')}`) : 'no lab is up (netlab status lists them)'].join('; ');
  throw new CliError(`lab ${lab} is not up`, EXIT.applyFailed, hint);
}

/** Resolves NODE within a lab that is up; checks that its namespace really exists. */
export async function resolveTarget(runner: CommandRunner, labArg: string, node: string): Promise<Target> {
  const j = await upJournal(labArg);
  const base = { lab: j.lab, file: j.file, node, journal: j };
  if (node === HOST_NODE) {
    if (!j.hostLinks.length)
      throw new CliError(
        `lab ${j.lab} has nothing in the host's root namespace`,
        EXIT.error,
        `${HOST_NODE} names the host for labs with host bridges; this lab's nodes: ${j.namespaces.join(', ') || '(none)'}`,
      );
    return { ...base, ns: HOST };
  }
  if (!j.namespaces.includes(node)) {
    const nodes = j.namespaces.length ? j.namespaces.join(', ') : '(none)';
    const extra = j.hostLinks.length ? `; ${HOST_NODE} is the host's root namespace (${j.hostLinks.join(', ')})` : '';
    const dym = didYouMean(node, j.namespaces);
    throw new CliError(`lab ${j.lab} has no node '${node}'`, EXIT.error, `${dym ? `${dym} ` : ''}its nodes: ${nodes}${extra}`);
  }
  const r = await runner.run(['ip', '-j', 'netns', 'list']);
  if (r.exitCode === 127) throw missingIp();
  const names = r.exitCode === 0 && r.stdout.trim() ? (JSON.parse(r.stdout) as { name: string }[]).map((x) => x.name) : [];
  if (!names.includes(node))
    throw new CliError(
      `namespace '${node}' of lab ${j.lab} does not exist (the lab is ${j.status === 'up' ? 'up, but the namespace was removed by hand' : `'${j.status}'`})`,
      EXIT.applyFailed,
      `run 'netlab up ${j.file}' to recreate it`,
    );
  return { ...base, ns: node };
}

export function missingIp(): CliError {
  return new CliError("'ip' (iproute2) is not installed", EXIT.unsupported, 'Debian/Ubuntu: apt-get install iproute2; Fedora: dnf install iproute');
}

/** argv that runs `argv` in the target's namespace. */
export function inTarget(t: Pick<Target, 'ns'>, argv: string[]): string[] {
  return t.ns === HOST ? argv : ['ip', 'netns', 'exec', t.ns, ...argv];
}

export type Lookup = { path: string } | { error: 'not-found' | 'not-executable'; path?: string };

/** Finds a program as execvp(3) would, so a missing command is reported like a shell (127/126). */
export function findProgram(cmd: string, path = process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'): Lookup {
  const check = (p: string): Lookup | undefined => {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      return undefined;
    }
    if (st.isDirectory()) return { error: 'not-executable', path: p };
    try {
      accessSync(p, constants.X_OK);
      return { path: p };
    } catch {
      return { error: 'not-executable', path: p };
    }
  };
  if (cmd.includes('/')) return check(cmd) ?? { error: 'not-found', path: cmd };
  let denied: Lookup | undefined;
  for (const dir of path.split(delimiter)) {
    const hit = check(join(dir || '.', cmd));
    if (hit && 'path' in hit && !('error' in hit)) return hit;
    if (hit) denied ??= hit;
  }
  return denied ?? { error: 'not-found' };
}

/** "no such directory" rather than "ENOENT: no such file or directory, open '...'". */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'its directory does not exist';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  if (err.code === 'EISDIR') return 'it is a directory';
  return err.message;
}
