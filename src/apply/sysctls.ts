// Why a `sysctl -w` step failed, per key. Validation checks a key by its shape only: which settings
// exist depends on the kernel and on the network namespace (net.ipv4.neigh.default.* and most of
// net.core.* exist, or are writable, only in the initial one, which a node never is, and netlab's
// own namespace is not in a container or CI pod). So apply is where a key turns out to be missing,
// and this is what makes that error name the key, its node and the likely cause.
import { HOST, inNetns } from '../model/types.js';
import { didYouMean } from '../load/problems.js';
import { sysctlDisplay } from '../load/syntax.js';
import type { Action } from '../plan/actions.js';
import type { RunResult } from '../runner/runner.js';

type SysctlAction = Extract<Action, { kind: 'sysctl.set' }>;

export const isSysctlStep = (actions: Action[]): boolean => actions[0]?.kind === 'sysctl.set';

/**
 * sysctl(8) goes on past a key it cannot set and says so on stderr, with exit 1 for a missing key
 * but exit 0 for a refused write (procps-ng 4.0: `setting key "net.core.rmem_max": Invalid argument`
 * for a key that is read-only in this namespace): any line on stderr is a failure.
 */
export function sysctlFailed(r: RunResult): boolean {
  return r.exitCode !== 0 || r.stderr.trim() !== '';
}

/** The names sysctl(8) may print for a key: its slash path, the dotted form, or dots and slashes swapped. */
function namesOf(path: string): string[] {
  const swapped = path
    .split('/')
    .map((p) => p.replace(/\./g, '/'))
    .join('.');
  return [path, path.replace(/\//g, '.'), swapped, sysctlDisplay(path)];
}

export interface Refusal {
  action: SysctlAction;
  /** sysctl's own line about it. */
  said: string;
}

/** The keys sysctl(8) complained about, each with its lines (a first line naming no key of ours goes to the first action). */
export function refusals(actions: Action[], stderr: string): Refusal[] {
  const sets = actions.filter((a): a is SysctlAction => a.kind === 'sysctl.set');
  const out: Refusal[] = [];
  for (const line of stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const named = /\/proc\/sys\/(\S+?):/.exec(line)?.[1] ?? /key ["']([^"']+)["']/.exec(line)?.[1] ?? /["']([^"']+)["'] is an unknown key/.exec(line)?.[1];
    const action = named !== undefined ? sets.find((a) => namesOf(a.key).includes(named)) : undefined;
    const found = action ?? (out.length === 0 ? sets[0] : undefined);
    if (!found) continue;
    const prev = out.find((x) => x.action === found);
    if (prev) prev.said += `\n${line}`;
    else out.push({ action: found, said: line });
  }
  return out;
}

/** What a key is in the namespace it was written in: missing (with its directory's entries), read-only, or writable. */
export interface KeyFact {
  state: 'missing' | 'read-only' | 'writable';
  siblings?: string[];
}

export interface Facts {
  keys: Map<string, KeyFact>;
  /** Is that namespace the initial one? Only the initial one has net/ipv4/neigh/default. */
  initial?: boolean;
}

/** One shell in the namespace, run only after a failure: for each key, what it is there. */
export function factsArgv(ns: string, paths: string[]): string[] {
  const script =
    'if [ -d /proc/sys/net/ipv4/neigh/default ]; then echo initial yes; else echo initial no; fi; ' +
    'for p; do f=/proc/sys/$p; if [ ! -e "$f" ]; then echo missing "$p" $(ls "${f%/*}" 2>/dev/null); elif [ ! -w "$f" ]; then echo read-only "$p"; else echo writable "$p"; fi; done';
  return inNetns(ns, ['sh', '-c', script, 'sh', ...paths]);
}

export function parseFacts(stdout: string): Facts {
  const facts: Facts = { keys: new Map() };
  for (const line of stdout.split('\n')) {
    const [state, path, ...siblings] = line.trim().split(/\s+/);
    if (state === 'initial') facts.initial = path === 'yes';
    if (!path || (state !== 'missing' && state !== 'read-only' && state !== 'writable')) continue;
    facts.keys.set(path, { state, ...(state === 'missing' ? { siblings } : {}) });
  }
  return facts;
}

export interface SysctlFailure {
  /** The lab object: "node pod1, sysctl net.ipv4.neigh.default.gc_thresh3". */
  object: string;
  /** What went wrong, per key. */
  line: string;
  hint: string;
}

const ELSEWHERE = 'a container, a CI pod, unshare --net';

/** The error for a failed sysctl step, from sysctl's stderr and (when they could be read) the facts of that namespace. */
export function describeSysctlFailure(actions: Action[], stderr: string, facts: Facts = { keys: new Map() }): SysctlFailure {
  const refused = refusals(actions, stderr);
  const first = refused[0]?.action ?? (actions[0] as SysctlAction);
  const host = first.ns === HOST;
  const where = host ? 'the network namespace netlab runs in' : `node ${first.ns}'s network namespace`;
  const keys = refused.length ? refused.map((r) => r.action) : [first];
  const object = `${first.object}, sysctl${keys.length > 1 ? 's' : ''} ${keys.map((a) => sysctlDisplay(a.key)).join(', ')}`;
  const kinds = keys.map((a) => {
    const fact = facts.keys.get(a.key);
    const said = refused.find((r) => r.action === a)?.said ?? '';
    if (fact?.state === 'missing' || (!fact && /cannot stat|No such file|unknown key/i.test(said))) return { a, kind: 'missing' as const, fact };
    return { a, kind: fact?.state === 'read-only' ? ('read-only' as const) : ('refused' as const), fact };
  });
  const told = (k: (typeof kinds)[number]) =>
    k.kind === 'missing' ? (keys.length > 1 ? 'does not exist' : `/proc/sys/${k.a.key} does not exist`) : k.kind === 'read-only' ? 'is read-only' : `refused the value ${k.a.value}`;
  const line =
    keys.length > 1
      ? `in ${where}: ${kinds.map((k) => `${sysctlDisplay(k.a.key)} ${told(k)}`).join('; ')}`
      : kinds[0]!.kind === 'refused'
        ? `the kernel refused the value ${first.value}`
        : `${told(kinds[0]!).replace(/^is /, '')} in ${where}`;

  const hints: string[] = [];
  for (const k of kinds) {
    const dym = k.fact?.siblings?.length ? didYouMean(k.a.key.split('/').pop()!, k.fact.siblings) : undefined;
    if (dym) hints.push(`${sysctlDisplay(k.a.key)}: ${dym}`);
  }
  const missing = kinds.some((k) => k.kind === 'missing');
  const readOnly = kinds.some((k) => k.kind === 'read-only');
  const them = keys.length > 1 ? 'them' : 'it';
  const notInitial = host
    ? facts.initial === false
      ? `netlab runs in a network namespace other than the initial one here (${ELSEWHERE})`
      : undefined
    : "a node's network namespace is never the initial one";
  if ((missing || readOnly) && notInitial) {
    const only = [missing && 'exist (net.ipv4.neigh.default.*, most of net.core.*)', readOnly && 'may be changed (net.core.rmem_max, ...)'].filter(Boolean).join(' or ');
    const instead = host
      ? `set ${them} on the machine itself (outside the container), or drop ${them} from the lab`
      : `set ${them} under 'host: sysctls:' when netlab runs on the machine itself, or drop ${them} from the lab`;
    hints.push(`${notInitial}, and some settings ${only} only in the initial one${missing ? ', others only on some kernels or once a module is loaded' : ''}: ${instead}`);
  } else {
    if (missing) hints.push('this kernel has no such setting: a typo, a setting of another kernel version, or of a module that is not loaded');
    if (readOnly) hints.push('the kernel does not let this namespace change it');
  }
  if (kinds.some((k) => k.kind === 'refused'))
    hints.push("check the value against the kernel's documentation of the setting (Documentation/networking/ip-sysctl.rst): out of range, or not writable here");
  return { object, line, hint: hints.join('; ') };
}
