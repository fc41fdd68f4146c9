// cli/instance: LAB@NAME on the command line (and `up FILE --instance NAME`): the command runs on
// the lab's instance, inside its world (engine/instance.ts). One hook before every verb that takes
// a lab first: it runs netlab itself inside the world with the same arguments (LAB@NAME as LAB)
// and exits with its status; `up` makes the world first, `down` removes it after the lab, and
// `shell LAB@NAME` with no node opens a shell in the world itself.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CliError, EXIT, Exit } from '../core/errors.js';
import type { Instance } from '../engine/instance.js';
import type { Lab } from '../model/types.js';
import { loadLabCached } from '../load/cache.js';
import { pickShell, shellLaunch } from '../ops/shell.js';
import { labFileOf } from '../ops/target.js';
import { requireRoot } from '../privileges.js';
import { acquireLock } from '../state/lock.js';
import type { CliDeps } from './common.js';

/** The verbs whose first argument is a lab: each takes LAB@NAME there. */
const LAB_FIRST = new Set(['up', 'plan', 'check', 'trace', 'status', 'down', 'exec', 'shell', 'capture', 'logs', 'impair']);

/**
 * The arguments netlab runs with inside the instance: the lab argument (the first `from` after the
 * verb) becomes `to`, and `--instance NAME` goes. Nothing after `--` is touched. Pure.
 */
export function innerArgs(argv: string[], verb: string, from: string, to: string): string[] {
  const out: string[] = [];
  let seenVerb = false;
  let replaced = false;
  let rest = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (rest) {
      out.push(a);
      continue;
    }
    if (a === '--') rest = true;
    else if (a === '--instance') {
      i++;
      continue;
    } else if (a.startsWith('--instance=')) continue;
    else if (!seenVerb && a === verb) seenVerb = true;
    else if (seenVerb && !replaced && a === from) {
      out.push(to);
      replaced = true;
      continue;
    }
    out.push(a);
  }
  return out;
}

/** What `down` says once an instance's world is gone. */
export function worldRemoved(key: string, r: { killed: number; uplink?: string[] }): string {
  return `instance ${key}: its world is removed${r.killed ? ` (stopped ${r.killed} process(es) still in it)` : ''}${r.uplink?.length ? `, with its uplink (${r.uplink.join(', ')})` : ''}`;
}

/** Adds the hook; called once from cli/main.ts, after the verbs are registered. */
export function registerInstances(program: Command, deps: CliDeps): void {
  program.hook('preAction', async (_root, cmd) => {
    const code = await dispatch(cmd, deps);
    if (code !== undefined) throw new Exit(code);
  });
}

async function dispatch(cmd: Command, deps: CliDeps): Promise<number | undefined> {
  const verb = cmd.name();
  if (!LAB_FIRST.has(verb)) return undefined;
  const arg = cmd.processedArgs[0] as string | undefined;
  const name = (cmd.opts() as { instance?: string }).instance;
  // Every command passes here: the instance engine loads only for one that names an instance.
  if (name === undefined && !arg?.includes('@')) return undefined;
  const { downInstance, ensureWorld, instanceOf, instanceStatus, parseInstance, requireWorld, runInside, syncUplink, uplinkPossible } = await import('../engine/instance.js');
  const parsed = arg !== undefined ? parseInstance(arg) : undefined;
  if (!parsed && name === undefined) return undefined;
  if (process.env.NETLAB_INSTANCE)
    throw new CliError(`already inside instance ${process.env.NETLAB_INSTANCE}: instances do not nest`, EXIT.error, 'leave the instance (exit its shell) first, or name the lab without @NAME');
  if (parsed && name !== undefined) throw new CliError(`give the instance once: ${arg} or --instance ${name}, not both`, EXIT.error);
  requireRoot(verb);
  const argv = process.argv.slice(2);
  let inst: Instance;
  let args: string[];
  let lab: Lab | undefined;
  if (parsed) {
    inst = parsed;
    args = innerArgs(argv, verb, arg!, inst.lab);
  } else {
    // `up FILE --instance NAME`: the lab's name is in the file (an invalid file makes nothing: exit 2).
    lab = await loadLabCached(labFileOf(arg!));
    inst = instanceOf(lab.name, name!);
    args = innerArgs(argv, verb, arg!, arg!);
  }
  const o = cmd.opts() as { json?: boolean; dryRun?: boolean };
  const note = (s: string) => !o.json && deps.err(s);
  if (verb === 'up') {
    if (o.dryRun) {
      await requireWorld(deps.runner, inst).catch(() => {
        throw new CliError(`instance ${inst.key} is not up: a dry run has no world to read`, EXIT.applyFailed, `'netlab plan ${arg}' shows what a new instance gets: all of it`);
      });
      return runInside(deps.runner, inst, args);
    }
    // Nothing is made for a lab whose uplink cannot be.
    if (lab?.host.uplink) uplinkPossible(inst.key);
    const release = acquireLock(inst.key);
    try {
      const w = await ensureWorld(deps.runner, inst);
      if (w.created) note(`instance ${inst.key}: a world of its own made (its host and /run/netns are private)`);
      // The uplink, when the lab asks, before the lab: `up LAB@NAME` takes the file the instance was made from.
      const file = lab ? undefined : instanceStatus(inst).file;
      lab ??= file && existsSync(file) ? await loadLabCached(file) : undefined;
      if (lab) {
        const said = await syncUplink(deps.runner, inst, lab.host.uplink);
        if (said) note(said);
      }
      return await runInside(deps.runner, inst, args);
    } finally {
      release();
    }
  }
  if (verb === 'down') {
    const r = await downInstance(deps.runner, inst, args, o.dryRun ? { dryRun: true } : {});
    if (!r.wasUp) note(`instance ${inst.key} is not up: nothing to remove`);
    else if (o.dryRun) {
      const up = instanceStatus(inst).uplink;
      note(`# would then remove the world of instance ${inst.key}${up ? `, and its uplink ${up.hostInterface} and its rules on the real host` : ''}`);
    } else if (r.code === EXIT.ok && !o.dryRun) note(worldRemoved(inst.key, r));
    return r.code;
  }
  await requireWorld(deps.runner, inst);
  if (verb === 'shell' && cmd.processedArgs[1] === undefined) return worldShell(deps, inst);
  return runInside(deps.runner, inst, args);
}

/**
 * A shell inside the instance's world: its host, its /run/netns, so the article's own commands
 * work as written (`ip netns exec ns1 ping ...`, `brctl show`), and so does `netlab` (its state
 * directory is the instance's).
 */
async function worldShell(deps: CliDeps, inst: Instance): Promise<number> {
  const { instanceEnv, instancePrefix } = await import('../engine/instance.js');
  const tmp = mkdtempSync(join(tmpdir(), 'netlab-shell-'));
  try {
    const l = shellLaunch(pickShell(), `[${inst.key}]`, { ...instanceEnv(inst), NETLAB_LAB: inst.lab }, tmp);
    for (const [f, text] of l.files) writeFileSync(f, text, { mode: 0o600 });
    return await deps.runner.foreground([...instancePrefix(inst), ...l.argv], { env: l.env });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
