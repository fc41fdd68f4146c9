// cli/hosts: up, check and down of a lab across hosts (src/engine/hosts.ts does the work): the
// verbs call these first and carry on as for one host when the lab spans no hosts.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, EXIT, Exit } from '../core/errors.js';
import type { HostsOutcome } from '../engine/hosts.js';
import { PART_ENV, readHostsRecord } from '../state/hosts.js';
import type { RawLab } from '../load/raw.js';
import type { Lab } from '../model/types.js';
import { loadLabCached } from '../load/cache.js';
import { labFileOf, labNameOf } from '../ops/target.js';
import { report, type CliDeps } from './common.js';
import { innerArgs } from './instance.js';

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

/** The verbs that act on one node: their second argument is NODE (NODE:IFACE for impair, NODE/NAME for logs). */
const ON_NODE = new Set(['exec', 'shell', 'capture', 'impair', 'logs']);
/** The verbs that, given a lab and no node, act on every host's part. */
const EVERY_HOST = new Set(['logs', 'status']);
const nodeOf = (verb: string, target: string) => (verb === 'impair' ? target.slice(0, Math.max(0, target.indexOf(':'))) : verb === 'logs' ? target.split('/')[0]! : target);

/**
 * Adds the hook that runs a node's verb on the node's host, for a lab across hosts this machine
 * brought up (by its name or file): netlab there runs with the same arguments, on its part, its output and
 * exit status this netlab's (a shell on a terminal there). A node on this machine carries on here.
 * `logs LAB` without a node and `status LAB` show every host's, one host after the other
 * (`status LAB --json`: one document with each host's).
 */
export function registerAcross(program: Command, deps: CliDeps): void {
  program.hook('preAction', async (_root, cmd) => {
    const verb = cmd.name();
    const [lab, target] = cmd.processedArgs as [string | undefined, string | undefined];
    if (!(ON_NODE.has(verb) || EVERY_HOST.has(verb)) || !lab || (!target && !EVERY_HOST.has(verb)) || lab.includes('@') || process.env[PART_ENV]) return;
    const rec = readHostsRecord(isName(lab) ? lab : await labNameOf(lab));
    if (!rec) return;
    const { hostOfNode, onHost, onHostCaptured } = await import('../engine/hosts.js');
    const args = innerArgs(process.argv.slice(2), verb, lab, rec.lab);
    if (verb === 'status' && (cmd.opts() as { json?: boolean }).json) {
      // Every host answers, or says why it could not (exit 3 then).
      const hosts = await Promise.all(
        rec.hosts.map(async (h) => {
          let r: Awaited<ReturnType<typeof onHostCaptured>>;
          try {
            r = await onHostCaptured(deps.runner, h, args);
          } catch (e) {
            return { host: h.name, error: (e as Error).message };
          }
          try {
            return { host: h.name, ...(JSON.parse(r.stdout) as object) };
          } catch {
            return { host: h.name, error: (r.stderr || r.stdout).trim() || `exit ${r.exitCode}` };
          }
        }),
      );
      deps.out(JSON.stringify({ lab: rec.lab, hosts }, null, 2));
      throw new Exit(hosts.some((h) => 'error' in h) ? EXIT.applyFailed : EXIT.ok);
    }
    if (!target) {
      // One host after the other; a host that cannot be reached is said, and the others still shown
      // (exit 3). logs: exit 0 when a host showed logs (a part that started no process says so, exit 1).
      const codes: number[] = [];
      let unreachable = false;
      for (const h of rec.hosts) {
        deps.out(`== host ${h.name}`);
        try {
          codes.push(await onHost(deps.runner, h, args, { tty: false, stdin: 'ignore' }));
        } catch (e) {
          report(deps.err, e);
          unreachable = true;
        }
      }
      if (unreachable) throw new Exit(EXIT.applyFailed);
      throw new Exit(verb === 'logs' && codes.includes(EXIT.ok) ? EXIT.ok : Math.max(...codes));
    }
    const node = nodeOf(verb, target);
    const host = await hostOfNode(rec, node);
    if (!host) {
      const nodes = rec.nodes ? Object.keys(rec.nodes).join(', ') : '';
      throw new CliError(`lab ${rec.lab} has no node '${node}'`, EXIT.error, nodes ? `its nodes: ${nodes}` : undefined);
    }
    if ('local' in host.reach) return;
    // A terminal there for a shell, and for exec and capture on a terminal here (Ctrl-C then reaches
    // the command there; never for a pcap piped out, which a terminal would mangle).
    const onTerminal = !!process.stdin.isTTY && !!process.stdout.isTTY;
    const tty = verb === 'shell' ? !!process.stdin.isTTY : (verb === 'exec' || verb === 'capture') && onTerminal;
    // The same arguments there, the lab by its name (a file here is not a file there).
    throw new Exit(await onHost(deps.runner, host, args, { tty, ...(verb === 'logs' || verb === 'impair' ? { stdin: 'ignore' as const } : {}) }));
  });
}
