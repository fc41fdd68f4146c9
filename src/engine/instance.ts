// engine/instance: a lab instance, LAB@NAME: the lab built inside a world of its own (src/world/),
// whose network namespace plays the lab's host and whose /run/netns is private, so that the lab
// keeps the article's names and any number of instances live side by side, the real root
// namespace untouched. netlab runs a command on an instance by running itself inside the world
// (nsenter --net --mount, the same working directory) with the instance's own state directory,
// STATE/instances/LAB@NAME/state: every path, every read of /proc, /sys and /run/netns and every
// lab process is then the world's, and the lab's journal and lock are the instance's. The world's
// identity (its two nsfs inodes, its /run/netns) is recorded next to it and proven before use.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, EXIT } from '../core/errors.js';
import { stateDir } from '../core/state.js';
import type { CommandRunner } from '../runner/runner.js';
import { LAB_NAME } from '../state/journal.js';
import { acquireLock } from '../state/lock.js';
import { createWorld, destroyWorld, listWorlds, matchWorld, worldFiles, worldMark, worldPrefix, type WorldId, boundInode } from '../world/world.js';
import { ensureUplink, readUplink, removeUplink, uplinkKeys } from './uplink.js';

export { uplinkPossible } from './uplink.js';

export interface Instance {
  lab: string;
  name: string;
  /** LAB@NAME: the instance's key in the state directory, its lock and its world. */
  key: string;
}

const KEY = new RegExp(`^(${LAB_NAME})@(${LAB_NAME})$`);

/** LAB@NAME -> the instance; undefined for anything else (a lab name, a file). */
export function parseInstance(arg: string): Instance | undefined {
  const m = KEY.exec(arg);
  return m ? { lab: m[1]!, name: m[2]!, key: arg } : undefined;
}

/** An instance name as --instance takes it: like a lab name. */
export function instanceOf(lab: string, name: string): Instance {
  if (!new RegExp(`^${LAB_NAME}$`).test(name)) throw new CliError(`not an instance name: ${name}`, EXIT.error, 'an instance name is 1-32 letters, digits, - and _');
  return { lab, name, key: `${lab}@${name}` };
}

/** The directory holding every instance's world and state. */
export const instancesDir = () => join(stateDir(), 'instances');
/** The state directory netlab uses inside the instance (journal, lock, process logs). */
export const instanceStateDir = (key: string) => join(worldFiles(instancesDir(), key).dir, 'state');
const recordPath = (key: string) => join(worldFiles(instancesDir(), key).dir, 'world.json');

/** The instances there are (up, or half made), by key. */
export function listInstances(): Instance[] {
  return listWorlds(instancesDir())
    .map(parseInstance)
    .filter((i): i is Instance => !!i);
}

function readRecord(key: string): WorldId | undefined {
  try {
    const r = JSON.parse(readFileSync(recordPath(key), 'utf8')) as Partial<WorldId>;
    if (typeof r.net === 'number' && typeof r.mnt === 'number' && typeof r.netnsDir === 'string') return { net: r.net, mnt: r.mnt, netnsDir: r.netnsDir };
  } catch {
    // none yet (a world killed while being made), or unreadable: proven by its mark instead
  }
  return undefined;
}

export type WorldState = { state: 'none' } | { state: 'stale' } | { state: 'ours'; id: WorldId };

/**
 * Where the instance's world stands, proven: 'ours' when the files bind the namespaces recorded
 * (or, for a world whose record was never written, when its lo carries the instance's mark);
 * 'stale' when nothing is bound any more (after a reboot); 'none' when there is no world.
 * Anything else is someone else's and refused.
 */
export async function proveWorld(runner: CommandRunner, inst: Instance): Promise<WorldState> {
  const files = worldFiles(instancesDir(), inst.key);
  if (!existsSync(files.dir)) return { state: 'none' };
  const rec = readRecord(inst.key);
  const other = () =>
    new CliError(
      `the world of instance ${inst.key} at ${files.dir} is not the one netlab made (its namespaces are not those recorded)`,
      EXIT.applyFailed,
      'netlab leaves it alone: look at it (findmnt), and remove it by hand',
    );
  if (rec) {
    const m = matchWorld(files, rec);
    if (m === 'other') throw other();
    return m === 'same' ? { state: 'ours', id: rec } : { state: 'stale' };
  }
  // No record: a world killed while being made (it is made under the instance's lock, which the
  // caller holds now). Each namespace still bound must carry the mark, or be still empty: a network
  // namespace with lo alone, a mount namespace whose /run/netns is not yet its own.
  const net = boundInode(files.net);
  const mnt = boundInode(files.mnt);
  if (net === undefined && mnt === undefined) return { state: 'stale' };
  let netnsDir = '';
  if (net !== undefined) {
    const r = await runner.run(['nsenter', `--net=${files.net}`, 'ip', '-o', 'link', 'show']);
    const links = r.stdout.trim().split('\n');
    const alias = /alias (\S+)/.exec(links[0] ?? '')?.[1];
    const fresh = links.length === 1 && /^1: lo:/.test(links[0]!) && alias === undefined;
    if (r.exitCode !== 0 || !(fresh || alias === worldMark(inst.key))) throw other();
  }
  if (mnt !== undefined) {
    const r = await runner.run(['nsenter', `--mount=${files.mnt}`, 'sh', '-c', 'findmnt -no SOURCE /run/netns; stat -c "%d %i" /run/netns']);
    // findmnt lists what is mounted on /run/netns bottom up (the host's copy, then the world's tmpfs).
    const lines = r.stdout.trim().split('\n');
    const stat = lines.pop() ?? '';
    if (lines.at(-1) === 'netlab-world' && /^\d+ \d+$/.test(stat)) netnsDir = stat;
    else if (lines.includes('netlab-world')) throw other();
  }
  return { state: 'ours', id: { net: net ?? 0, mnt: mnt ?? 0, netnsDir } };
}

/** The instance's world, made when there is none (or only a stale one), proven when there is. */
export async function ensureWorld(runner: CommandRunner, inst: Instance): Promise<{ id: WorldId; created: boolean }> {
  const w = await proveWorld(runner, inst);
  if (w.state === 'ours') return { id: w.id, created: false };
  if (w.state === 'stale') await destroyWorld(runner, instancesDir(), inst.key, undefined);
  const { id } = await createWorld(runner, instancesDir(), inst.key);
  writeFileSync(recordPath(inst.key), `${JSON.stringify({ instance: inst.key, ...id, created: new Date().toISOString() })}\n`);
  return { id, created: true };
}

/** The world of an instance that must be up; exit 3 when it is not. */
export async function requireWorld(runner: CommandRunner, inst: Instance): Promise<WorldId> {
  const w = await proveWorld(runner, inst);
  if (w.state === 'ours') return w.id;
  throw new CliError(`instance ${inst.key} is not up`, EXIT.applyFailed, `'netlab up FILE --instance ${inst.name}' makes it; 'netlab status' lists the instances`);
}

/**
 * The instance's uplink as its lab asks (host: uplink): made or kept when it does, removed when it
 * no longer does. Call with the world up and the instance's lock held. Resolves to a line for the user.
 */
export async function syncUplink(runner: CommandRunner, inst: Instance, want: boolean): Promise<string | undefined> {
  const files = worldFiles(instancesDir(), inst.key);
  if (want) return ensureUplink(runner, inst.key, files.dir, files.net);
  if (!readUplink(files.dir)) return undefined;
  const r = await removeUplink(runner, inst.key, files.dir);
  return r.removed.length ? `instance ${inst.key}: the lab no longer asks for an uplink: removed ${r.removed.join(', ')}` : undefined;
}

/** The argv that runs a command inside the instance's world, in the current directory. */
export function instancePrefix(inst: Instance): string[] {
  return worldPrefix(worldFiles(instancesDir(), inst.key), process.cwd());
}

/** The environment netlab runs with inside the instance. */
export function instanceEnv(inst: Instance): NodeJS.ProcessEnv {
  return { ...process.env, NETLAB_STATE_DIR: instanceStateDir(inst.key), NETLAB_INSTANCE: inst.key };
}

/** Runs netlab itself inside the instance with these arguments; resolves to its exit status. */
export function runInside(runner: CommandRunner, inst: Instance, args: string[], opts: { stdout?: number } = {}): Promise<number> {
  const self = [process.execPath, ...process.execArgv, process.argv[1]!];
  return runner.foreground([...instancePrefix(inst), ...self, ...args], { env: instanceEnv(inst), ...opts });
}

/** The instance's lab journals (file names without .json), read from outside. */
export function instanceJournals(key: string): string[] {
  try {
    return readdirSync(join(instanceStateDir(key), 'labs'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''));
  } catch {
    return [];
  }
}

/** One instance as `status` lists it, from its files (no command runs inside it). */
export interface InstanceStatus {
  instance: string;
  lab: string;
  name: string;
  world: 'up' | 'stale' | 'foreign';
  status?: string;
  nodes?: string[];
  file?: string;
  /** Its uplink: the world's address, the real host's interface and address. */
  uplink?: { address: string; hostInterface: string; gateway: string };
}

export function instanceStatus(inst: Instance): InstanceStatus {
  const files = worldFiles(instancesDir(), inst.key);
  const rec = readRecord(inst.key);
  const m = rec ? matchWorld(files, rec) : boundInode(files.net) !== undefined ? 'same' : 'gone';
  const up = readUplink(files.dir);
  const base: InstanceStatus = {
    instance: inst.key,
    lab: inst.lab,
    name: inst.name,
    world: m === 'same' ? 'up' : m === 'gone' ? 'stale' : 'foreign',
    ...(up ? { uplink: { address: up.worldAddr, hostInterface: up.hostIf, gateway: up.hostAddr } } : {}),
  };
  try {
    const j = JSON.parse(readFileSync(join(instanceStateDir(inst.key), 'labs', `${inst.lab}.json`), 'utf8')) as { status?: string; namespaces?: string[]; file?: string };
    return { ...base, ...(j.status ? { status: j.status } : {}), ...(j.namespaces ? { nodes: j.namespaces } : {}), ...(j.file ? { file: j.file } : {}) };
  } catch {
    return base;
  }
}

/**
 * `down LAB@NAME`: the lab inside, by netlab inside (its journal, its ownership rules), then the
 * world: whatever is still in it stops, its files are unbound and its directory goes. The lock is
 * the instance's (an `up` of it running meanwhile is refused, exit 5).
 */
export async function downInstance(
  runner: CommandRunner,
  inst: Instance,
  innerArgs: string[],
  opts: { dryRun?: boolean; stdout?: number } = {},
): Promise<{ code: number; wasUp: boolean; killed: number; uplink?: string[] }> {
  const release = opts.dryRun ? () => {} : acquireLock(inst.key);
  try {
    const w = await proveWorld(runner, inst);
    if (w.state === 'none') return { code: EXIT.ok, wasUp: false, killed: 0 };
    let code: number = EXIT.ok;
    if (w.state === 'ours' && instanceJournals(inst.key).length) code = await runInside(runner, inst, innerArgs, opts.stdout !== undefined ? { stdout: opts.stdout } : {});
    if (code !== EXIT.ok || opts.dryRun) return { code, wasUp: true, killed: 0 };
    // The uplink's end on the real host, while the record of what it made is still there.
    const uplink = await removeUplink(runner, inst.key, worldFiles(instancesDir(), inst.key).dir);
    const { killed } = await destroyWorld(runner, instancesDir(), inst.key, w.state === 'ours' ? w.id : undefined);
    return { code, wasUp: true, killed, uplink: uplink.removed };
  } finally {
    release();
  }
}

/**
 * `gc`: in every instance, netlab's own gc inside; then each world whose lab journal is gone (or
 * that was never finished, or whose namespaces are gone) is removed, proven by its identity, with
 * its uplink; then uplinks on the real host whose instance is gone. Lists what it removed.
 */
export async function gcInstances(runner: CommandRunner, opts: { dryRun?: boolean; only?: Set<string> } = {}): Promise<string[]> {
  const removed: string[] = [];
  for (const inst of listInstances()) {
    if (opts.only && !opts.only.has(inst.key)) continue;
    let release = () => {};
    try {
      if (!opts.dryRun) release = acquireLock(inst.key);
    } catch {
      continue; // being changed right now: not an orphan
    }
    try {
      const w = await proveWorld(runner, inst);
      if (w.state === 'ours' && instanceJournals(inst.key).length) {
        await runInside(runner, inst, ['gc', ...(opts.dryRun ? ['--dry-run'] : [])]);
        if (instanceJournals(inst.key).length) continue;
      }
      if (w.state === 'none') continue;
      const files = worldFiles(instancesDir(), inst.key);
      if (readUplink(files.dir)) removed.push(...(await removeUplink(runner, inst.key, files.dir, opts.dryRun)).removed);
      if (!opts.dryRun) await destroyWorld(runner, instancesDir(), inst.key, w.state === 'ours' ? w.id : undefined);
      removed.push(`world of instance ${inst.key} (no lab is up in it)`);
    } finally {
      release();
    }
  }
  // Uplinks on the real host whose instance is gone altogether (its state directory was removed).
  const known = new Set(listInstances().map((i) => i.key));
  for (const key of await uplinkKeys(runner)) {
    if (known.has(key) || (opts.only && !opts.only.has(key))) continue;
    removed.push(...(await removeUplink(runner, key, undefined, opts.dryRun)).removed.map((r) => `${r} (the instance is gone)`));
  }
  return removed;
}
