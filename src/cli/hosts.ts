// cli/hosts: up, check and down of a lab across hosts (src/engine/hosts.ts does the work): the
// verbs call these first and carry on as for one host when the lab spans no hosts.
import { readFileSync } from 'node:fs';
import { EXIT, Exit } from '../core/errors.js';
import type { HostsOutcome } from '../engine/hosts.js';
import { PART_ENV, readHostsRecord } from '../state/hosts.js';
import type { RawLab } from '../load/raw.js';
import type { Lab } from '../model/types.js';
import { loadLabCached } from '../load/cache.js';
import { labFileOf } from '../ops/target.js';
import { report, type CliDeps } from './common.js';

const isName = (arg: string) => !/\.ya?ml$/.test(arg) && !arg.includes('/');

/**
 * The lab to bring up: a lab across hosts that this machine brought up is found by its record (by
 * name), with the hosts it had (from an inventory, too); an inventory given now wins.
 */
export async function labAcross(arg: string, inventory: string | undefined): Promise<Lab> {
  const rec = isName(arg) ? readHostsRecord(arg) : undefined;
  const file = rec ? rec.file : labFileOf(arg);
  if (!inventory && !rec) return loadLabCached(file);
  // Never cached: the inventory may change.
  const [{ loadLabFile }, { loadInventoryFile }] = await Promise.all([import('../load/lab.js'), import('../load/inventory.js')]);
  return loadLabFile(file, inventory ? loadInventoryFile(inventory) : new Map(rec!.hosts.map((h) => [h.name, h])));
}

function finish(deps: CliDeps, o: HostsOutcome, json: boolean): void {
  for (const e of o.errors) report(deps.err, e);
  if (json) deps.out(JSON.stringify({ ok: o.ok, met: o.met, checks: o.checks, errors: o.errors.map((e) => e.message) }, null, 2));
  if (!o.ok) throw new Exit(EXIT.applyFailed);
  if (!o.met) throw new Exit(EXIT.checksFailed);
}

/** `up` of a lab that spans hosts; false when it does not (or when this is a host's part). */
export async function upAcross(deps: CliDeps, lab: Lab, o: { checks: boolean; dryRun?: boolean; json?: boolean }): Promise<boolean> {
  if (!lab.hosts || process.env[PART_ENV]) return false;
  const [{ upHosts }, { parseLabYaml }, { SourceMap }] = await Promise.all([import('../engine/hosts.js'), import('../load/yaml.js'), import('../load/source.js')]);
  const raw = parseLabYaml(readFileSync(lab.file, 'utf8'), new SourceMap(lab.file)) as RawLab;
  const say = (l: string) => !o.json && deps.out(l);
  say(`lab ${lab.name} across ${lab.hosts.size} host(s): ${[...lab.hosts.keys()].join(', ')}`);
  const r = await upHosts(deps.runner, lab, raw, { checks: o.checks, ...(o.dryRun ? { dryRun: true } : {}) }, { say });
  if (r.ok && !o.dryRun) say(`lab ${lab.name} is up on ${lab.hosts.size} host(s)${r.checks.length ? `; ${r.checks.filter((c) => c.met).length}/${r.checks.length} checks met` : ''}`);
  finish(deps, r, !!o.json);
  return true;
}

/** `check LAB` of a lab across hosts this machine brought up. */
export async function checkAcross(deps: CliDeps, arg: string, o: { json?: boolean }): Promise<boolean> {
  const rec = isName(arg) ? readHostsRecord(arg) : undefined;
  if (!rec) return false;
  const { checkHostsOf } = await import('../engine/hosts.js');
  const r = await checkHostsOf(deps.runner, rec, { say: (l) => !o.json && deps.out(l) });
  finish(deps, r, !!o.json);
  return true;
}

/** `down LAB` of a lab across hosts: every host's part. */
export async function downAcross(deps: CliDeps, name: string, o: { dryRun?: boolean; json?: boolean }): Promise<boolean> {
  const rec = readHostsRecord(name);
  if (!rec) return false;
  const { downHosts } = await import('../engine/hosts.js');
  const r = await downHosts(deps.runner, rec, o.dryRun ? { dryRun: true } : {}, { say: (l) => !o.json && deps.out(l) });
  if (r.ok && !o.dryRun && !o.json) deps.out(`lab ${name} is down on ${rec.hosts.length} host(s)`);
  finish(deps, r, !!o.json);
  return true;
}
