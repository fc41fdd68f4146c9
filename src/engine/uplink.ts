// engine/uplink: an instance's uplink, when its lab asks (`host: {uplink: true}`): a veth from the
// real host into the instance's world, the world's default route through it, and NAT on both
// sides, so that the lab reaches what the real host reaches. netlab makes it from outside the
// world before the lab's `up` inside, and removes it after the lab's `down`. What it makes on the
// real host is proven before it is changed or removed: the veth by its mark (alias
// netlab:LAB@NAME) and the ifindex recorded, the rules by their tag (the same comment).
// The world is the instance's alone: its end, route and masquerade go with it.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dropEmptyChains, dropEmptyTables } from '../apply/teardown.js';
import { CliError, EXIT } from '../core/errors.js';
import { contains, parseCidr } from '../model/net.js';
import { hostComment } from '../model/iptables.js';
import type { HostRule } from '../model/types.js';
import { readNftChains, taggedRules } from '../observe/observe.js';
import { parseLinks, splitJsonDocs } from '../observe/parse.js';
import { hostRulesPayload, normalizeSave } from '../render/iptables.js';
import type { CommandRunner } from '../runner/runner.js';
import { LAB_NAME } from '../state/journal.js';
import { waitLock } from '../state/lock.js';

/** The world's end of the uplink. */
export const UPLINK_IF = 'netlab-uplink';
/** Where the /30s of uplinks come from: link-local, away from 169.254.169.x (cloud metadata). */
const POOL = { base: [169, 254, 240, 0] as const, count: 1024 };

/** What an instance's uplink made on the real host, recorded in the instance's directory. */
export interface UplinkRecord {
  instance: string;
  hostIf: string;
  ifindex: number;
  /** The real host's address on it (the world's default gateway) and the world's, of one /30. */
  hostAddr: string;
  worldAddr: string;
  /** The filter chain its accept rules are in: DOCKER-USER where it exists, else FORWARD. */
  chain: string;
  /** The real host's iptables tables and filter chains before its rules (those it created go again). */
  tablesBefore: string[];
  chainsBefore?: string[];
}

/** Throws unless the real host forwards: an uplink needs it, and netlab does not switch it on. */
export function uplinkPossible(key: string): void {
  const forward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  if (forward !== '1')
    throw new CliError(
      `instance ${key}: the lab asks for an uplink (host: uplink: true), and this machine does not forward (net.ipv4.ip_forward=${forward})`,
      EXIT.applyFailed,
      'netlab does not turn a machine into a router: sysctl -w net.ipv4.ip_forward=1 (it then routes between all its interfaces), or drop uplink from the lab file',
    );
}

/**
 * One instance at a time changes the real host's uplinks: picking a free /30 and editing the
 * host's iptables are read-then-write (30 instances come up at once in a classroom).
 */
let inProcess: Promise<unknown> = Promise.resolve();
function hostSection<T>(fn: () => Promise<T>): Promise<T> {
  // One at a time in this process too (down --all takes instances down in parallel): the lock
  // file names its holder's pid, which every section of this process shares.
  const run = inProcess.then(async () => {
    const release = await waitLock('@uplinks', 60_000, "the real host's uplinks");
    try {
      return await fn();
    } finally {
      release();
    }
  });
  inProcess = run.catch(() => {});
  return run;
}

/** The real host's end: nlu- and a hash of the instance's key (interface names have 15 characters). */
export const uplinkIf = (key: string) => `nlu-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
const mark = (key: string) => hostComment(key);
const recordPath = (dir: string) => join(dir, 'uplink.json');

/** The records of the other instances' uplinks (the instances' directories are siblings). */
function siblings(dir: string): UplinkRecord[] {
  let names: string[];
  try {
    names = readdirSync(dirname(dir));
  } catch {
    return [];
  }
  return names
    .map((n) => join(dirname(dir), n))
    .filter((d) => d !== dir)
    .map(readUplink)
    .filter((r): r is UplinkRecord => !!r);
}

export function readUplink(dir: string): UplinkRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(dir), 'utf8')) as UplinkRecord;
  } catch {
    return undefined;
  }
}

async function must(runner: CommandRunner, argv: string[], input?: string, what = 'the uplink'): Promise<string> {
  const r = await runner.run(argv, input !== undefined ? { input } : {});
  if (r.exitCode !== 0) throw new CliError(`${what}: ${argv.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.trim()}`, EXIT.applyFailed);
  return r.stdout;
}

/** The real host's IPv4 prefixes: its addresses' and its routes' (every table), to keep clear of. */
async function takenPrefixes(runner: CommandRunner): Promise<string[]> {
  const docs = splitJsonDocs(await must(runner, ['ip', '-j', '-4', '-batch', '-'], 'addr show\nroute show table all\n'));
  const out: string[] = [];
  for (const l of (docs[0] ?? []) as { addr_info?: { local?: string }[] }[]) for (const a of l.addr_info ?? []) if (a.local) out.push(`${a.local}/32`);
  for (const r of (docs[1] ?? []) as { dst?: string }[]) if (r.dst && r.dst !== 'default') out.push(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
  return out;
}

/**
 * The first /30 of the pool that holds none of the real host's addresses (another instance's
 * uplink among them) and overlaps none of its routes of /24 or longer. Broader routes do not count:
 * a zeroconf 169.254.0.0/16 or a default route is what every desktop has, and the /30 is more
 * specific than they are.
 */
export function freeSlash30(taken: string[]): { hostAddr: string; worldAddr: string } | undefined {
  const nets = taken.map((t) => parseCidr(t)).filter((c) => c?.family === 'ipv4' && c.len >= 24);
  const [a, b, c0] = POOL.base;
  for (let i = 0; i < POOL.count; i++) {
    const c = c0 + (i >> 6);
    const d = (i & 63) * 4;
    const net = parseCidr(`${a}.${b}.${c}.${d}/30`)!;
    const overlaps = nets.some((n) => contains(n!, net.addr) || contains(net, n!.addr));
    if (!overlaps) return { hostAddr: `${a}.${b}.${c}.${d + 1}`, worldAddr: `${a}.${b}.${c}.${d + 2}` };
  }
  return undefined;
}

/** The rules on the real host: masquerade what comes from the world, let it through FORWARD, but not into another instance's uplink. */
function rules(key: string, rec: Pick<UplinkRecord, 'hostIf' | 'worldAddr' | 'chain'>): (HostRule & { at?: number })[] {
  const tag = `-m comment --comment ${mark(key)}`;
  return [
    { family: 'ipv4', table: 'nat', chain: 'POSTROUTING', spec: `-s ${rec.worldAddr}/32 ! -o ${rec.hostIf} ${tag} -j MASQUERADE` },
    { family: 'ipv4', table: 'filter', chain: rec.chain, spec: `-i ${rec.hostIf} ${tag} -j ACCEPT`, at: 1 },
    { family: 'ipv4', table: 'filter', chain: rec.chain, spec: `-o ${rec.hostIf} -m conntrack --ctstate RELATED,ESTABLISHED ${tag} -j ACCEPT`, at: 1 },
    // Inserted last, so first: one instance never reaches another's world through their uplinks.
    { family: 'ipv4', table: 'filter', chain: rec.chain, spec: `-i ${rec.hostIf} -o nlu-+ ${tag} -j DROP`, at: 1 },
  ];
}

/** The ifindex of the far end of the world's netlab-uplink (the real host's end, when it is this world's). */
async function worldPeer(runner: CommandRunner, worldNet: string): Promise<number | undefined> {
  const r = await runner.run(['nsenter', `--net=${worldNet}`, 'ip', '-j', 'link', 'show', 'dev', UPLINK_IF]);
  if (r.exitCode !== 0) return undefined;
  return (JSON.parse(r.stdout || '[]') as { link_index?: number }[])[0]?.link_index;
}

async function hostLink(runner: CommandRunner, name: string) {
  const r = await runner.run(['ip', '-j', '-d', 'link', 'show', 'dev', name]);
  return r.exitCode === 0 ? parseLinks(splitJsonDocs(r.stdout)[0] ?? []).get(name) : undefined;
}

/**
 * The uplink of the instance `key` whose world's network namespace is bound at `worldNet`, made
 * when there is none (its directory `dir` keeps the record), kept when there is one that is
 * proven the instance's. Resolves to what was done, for the user.
 */
export async function ensureUplink(runner: CommandRunner, key: string, dir: string, worldNet: string): Promise<string | undefined> {
  return hostSection(() => ensure(runner, key, dir, worldNet));
}

async function ensure(runner: CommandRunner, key: string, dir: string, worldNet: string): Promise<string | undefined> {
  const name = uplinkIf(key);
  const have = await hostLink(runner, name);
  const rec = readUplink(dir);
  if (have && (have.alias !== mark(key) || (rec && have.ifindex !== rec.ifindex)))
    throw new CliError(`the real host has an interface ${name} that is not instance ${key}'s uplink`, EXIT.applyFailed, `netlab leaves it alone: remove it (ip link del ${name}) if it is a leftover`);
  const saved = normalizeSave(await must(runner, ['iptables-save']));
  if (have && rec) {
    // In place: the world's side as it should be (a trainee in the world's shell may have changed
    // it), and the real host's rules put back when one went (by hand, a firewall reload).
    await worldSide(runner, key, worldNet, rec);
    const want = rules(key, rec);
    if (taggedRules(saved, 'ipv4', key).length === want.length) return undefined;
    await removeRules(runner, key, saved);
    await must(runner, ['iptables-restore', '--noflush'], hostRulesPayload(want, '-A'));
    return `instance ${key}: its uplink's rules on the real host put back`;
  }
  // Made anew: after a make killed halfway (a marked link, no record: proven this world's by its far
  // end), or when its veth went (the world's end deleted by hand takes the real host's with it);
  // what is left of the old one goes.
  if (have) {
    if (have.ifindex === undefined || (await worldPeer(runner, worldNet)) !== have.ifindex)
      throw new CliError(
        `the real host has an uplink ${name} marked for instance ${key}, and its far end is not in this instance's world`,
        EXIT.applyFailed,
        'an instance of the same name in another NETLAB_STATE_DIR? netlab leaves it alone; take that one down first',
      );
    await must(runner, ['ip', 'link', 'del', 'dev', name]);
  }
  const leftover = await removeRules(runner, key, saved);
  uplinkPossible(key);
  const slot = freeSlash30(await takenPrefixes(runner));
  if (!slot) throw new CliError(`instance ${key}: no /30 of 169.254.240.0/20 is free on this machine for its uplink`, EXIT.applyFailed, "'netlab status' lists the instances; take some down");
  const filter = leftover ? normalizeSave(await must(runner, ['iptables-save'])).get('filter') : saved.get('filter');
  const chain = /^:DOCKER-USER /m.test(filter ?? '') ? 'DOCKER-USER' : 'FORWARD';
  // What the real host had before any uplink: this one's first record, or another live uplink's
  // (the tables and chains the first uplink's rules brought into being go with the last one).
  const base = rec ?? siblings(dir)[0];
  const chains = base ? undefined : await readNftChains(runner);
  const before = base
    ? { tablesBefore: base.tablesBefore, ...(base.chainsBefore ? { chainsBefore: base.chainsBefore } : {}) }
    : { tablesBefore: [...saved.keys()], ...(chains?.ipv4 ? { chainsBefore: chains.ipv4 } : {}) };
  // The veth is marked in the batch that makes it: a make killed halfway leaves a marked link, which the next up or gc proves.
  await must(
    runner,
    ['ip', '-batch', '-'],
    `link add ${name} type veth peer name ${UPLINK_IF} netns ${worldNet}\nlink set dev ${name} alias ${mark(key)}\naddr add ${slot.hostAddr}/30 dev ${name}\nlink set dev ${name} up\n`,
  );
  const made = await hostLink(runner, name);
  if (!made?.ifindex) throw new CliError(`instance ${key}: its uplink ${name} vanished while it was made`, EXIT.applyFailed);
  const record: UplinkRecord = { instance: key, hostIf: name, ifindex: made.ifindex, ...slot, chain, ...before };
  writeFileSync(recordPath(dir), `${JSON.stringify(record)}\n`);
  await worldSide(runner, key, worldNet, record);
  await must(runner, ['iptables-restore', '--noflush'], hostRulesPayload(rules(key, record), '-A'));
  return `instance ${key}: uplink ${slot.worldAddr} -> ${name} (${slot.hostAddr}) on the real host, NATed${rec ? ' (made again: its veth was gone)' : ''}`;
}

/** The world's side, idempotent: its end up with its address, the default route, forwarding, the masquerade. */
async function worldSide(runner: CommandRunner, key: string, worldNet: string, rec: UplinkRecord): Promise<void> {
  const inWorld = (argv: string[]) => ['nsenter', `--net=${worldNet}`, ...argv];
  await must(runner, inWorld(['ip', '-batch', '-']), `link set dev ${UPLINK_IF} up\naddr replace ${rec.worldAddr}/30 dev ${UPLINK_IF}\nroute replace default via ${rec.hostAddr}\n`);
  await must(runner, inWorld(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
  const masq = ['-t', 'nat', 'POSTROUTING', '-o', UPLINK_IF, '-m', 'comment', '--comment', mark(key), '-j', 'MASQUERADE'];
  const rule = (op: string) => inWorld(['iptables', masq[0]!, masq[1]!, op, ...masq.slice(2)]);
  if ((await runner.run(rule('-C'))).exitCode !== 0) await must(runner, rule('-A'));
}

async function removeRules(runner: CommandRunner, key: string, saved: Map<string, string>): Promise<number> {
  const mine = taggedRules(saved, 'ipv4', key);
  if (mine.length) await must(runner, ['iptables-restore', '--noflush'], hostRulesPayload(mine, '-D'));
  return mine.length;
}

/**
 * Removes the uplink of instance `key` from the real host: its veth (proven by mark and, when
 * recorded, ifindex), its tagged rules, the tables and chains those brought into being. Lists
 * what it removed and what it left alone (an interface of that name that is not the uplink).
 */
export async function removeUplink(runner: CommandRunner, key: string, dir: string | undefined, dryRun = false): Promise<{ removed: string[]; left: string[] }> {
  return hostSection(() => remove(runner, key, dir, dryRun));
}

async function remove(runner: CommandRunner, key: string, dir: string | undefined, dryRun: boolean): Promise<{ removed: string[]; left: string[] }> {
  const out = { removed: [] as string[], left: [] as string[] };
  const rec = dir ? readUplink(dir) : undefined;
  const name = rec?.hostIf ?? uplinkIf(key);
  const have = await hostLink(runner, name);
  if (have && have.alias === mark(key) && rec && have.ifindex === rec.ifindex) {
    if (!dryRun) await must(runner, ['ip', 'link', 'del', 'dev', name]);
    out.removed.push(`uplink ${name} of instance ${key}`);
  } else if (have) {
    // Not recorded here, or not as recorded: a veth lives only while both its ends' namespaces do,
    // so its world is alive somewhere (an instance of another state directory): it and its rules stay.
    out.left.push(`${name}: ${have.alias === mark(key) ? `instance ${key}'s uplink, whose world is alive but not recorded in this state directory` : `not instance ${key}'s uplink`}`);
    return out;
  }
  const saved = normalizeSave(await must(runner, ['iptables-save']));
  const n = dryRun ? taggedRules(saved, 'ipv4', key).length : await removeRules(runner, key, saved);
  if (n) out.removed.push(`${n} iptables rule(s) of instance ${key}'s uplink`);
  // The tables and chains the first uplink brought into being, once the last uplink's rules are gone.
  if (n && rec && !dryRun && (await uplinkKeys(runner)).size === 0) {
    const exec = async (argv: string[]) => void (await runner.run(argv));
    const created = new Set(['nat', 'filter'].filter((t) => !rec.tablesBefore.includes(t)));
    await dropEmptyTables(runner, 'ipv4', created, exec, false);
    if (rec.chainsBefore) {
      const chains = new Set(['nat/POSTROUTING', `filter/${rec.chain}`].filter((c) => !created.has(c.split('/')[0]!) && !rec.chainsBefore!.includes(c)));
      await dropEmptyChains(runner, 'ipv4', chains, exec, false);
    }
  }
  if (dir && !dryRun) rmSync(recordPath(dir), { force: true });
  return out;
}

/** The instances whose uplink marks or rules are on the real host, by key (for gc: those without an instance). */
export async function uplinkKeys(runner: CommandRunner): Promise<Set<string>> {
  const keys = new Set<string>();
  const key = `(${LAB_NAME}@${LAB_NAME})`;
  const links = await runner.run(['ip', '-j', '-d', 'link', 'show', 'type', 'veth']);
  if (links.exitCode === 0)
    for (const l of parseLinks(splitJsonDocs(links.stdout)[0] ?? []).values()) {
      const k = new RegExp(`^netlab:${key}$`).exec(l.alias ?? '')?.[1];
      if (k && l.name === uplinkIf(k)) keys.add(k);
    }
  const save = await runner.run(['iptables-save']);
  for (const line of save.stdout.split('\n')) {
    const k = new RegExp(`--comment "?netlab:${key}"? `).exec(line)?.[1];
    if (line.startsWith('-A ') && k) keys.add(k);
  }
  return keys;
}
