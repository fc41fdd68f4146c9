// render: actions -> the exact commands, batched (pure). One `ip -batch` for the host, one
// `nsenter --net=/run/netns/NS ip -batch -` per namespace, one sysctl and one iptables-restore per
// namespace and family.
import { HOST, inNetns, type Family } from '../model/types.js';
import { PHASES, phaseOf, routeText, ruleText, type Action, type LinkSet, type Phase } from '../plan/actions.js';
import { commandText } from '../core/shell.js';
import { qdiscArgs } from '../model/impair.js';
import { linkKind } from '../model/linkkinds.js';
import { hostRulesPayload, restoreTool } from './iptables.js';
import { inetOf } from '../model/ipset.js';
import { startArgv, startText } from '../model/processes.js';

export interface Step {
  phase: Phase;
  /** Namespace the step works in (HOST for the root namespace). */
  ns: string;
  argv: string[];
  input?: string;
  /** For batches: the action behind each input line (1-based line n is lines[n-1]). */
  lines: Action[];
  /** For commands that take several actions at once (sysctl, iptables-restore). */
  actions: Action[];
  /** A deletion whose object may already be gone (a veth whose peer went first). */
  tolerant?: boolean;
  /** How the step reads as shell, when argv and input do not say it all (background processes). */
  display?: string;
}

function setText(s: LinkSet): string {
  const p: string[] = [];
  if (s.alias !== undefined) p.push('alias', s.alias);
  if (s.addrGenNone) p.push('addrgenmode', 'none');
  if (s.mtu !== undefined) p.push('mtu', String(s.mtu));
  if (s.mac !== undefined) p.push('address', s.mac);
  if (s.master !== undefined) p.push(...(s.master === null ? ['nomaster'] : ['master', s.master]));
  if (s.up !== undefined) p.push(s.up ? 'up' : 'down');
  return p.join(' ');
}

/** The `ipset restore` lines for an action, or undefined when it is not an ipset command. */
export function ipsetLines(a: Action): string[] | undefined {
  switch (a.kind) {
    case 'ipset.create':
      return [`create ${a.set.name} ${a.set.type} family ${inetOf(a.set.family)}`, ...a.set.members.map((m) => `add ${a.set.name} ${m}`)];
    case 'ipset.update':
      return [...a.del.map((m) => `del ${a.name} ${m}`), ...a.add.map((m) => `add ${a.name} ${m}`)];
    case 'ipset.destroy':
      return [`destroy ${a.name}`];
    default:
      return undefined;
  }
}

/** The `tc` batch line for an action, or undefined when it is not a tc command. */
export function tcLine(a: Action): string | undefined {
  if (a.kind === 'qdisc.replace') return `qdisc replace dev ${a.dev} root ${qdiscArgs(a.qdisc).join(' ')}`;
  if (a.kind === 'qdisc.del') return `qdisc del dev ${a.dev} root`;
  return undefined;
}

/** The `ip` batch line for an action, or undefined when it is not an ip command. */
export function ipLine(a: Action): string | undefined {
  switch (a.kind) {
    case 'netns.add':
      return `netns add ${a.ns}`;
    case 'netns.del':
      return `netns del ${a.ns}`;
    case 'link.add':
      return linkKind(a.link.kind)!.add(a.link, a.ns);
    case 'link.del':
      return `link del dev ${a.name}`;
    case 'link.set': {
      const { downFirst, ...set } = a.set;
      // A bond takes a member only while it is down, and the kernel applies `up` before `master`
      // within one command: down first, enslave, then up on a line of its own.
      if (downFirst) {
        const { up, ...rest } = set;
        return [`link set dev ${a.name} down`, `link set dev ${a.name} ${setText(rest)}`, ...(up !== undefined ? [`link set dev ${a.name} ${up ? 'up' : 'down'}`] : [])].join('\n');
      }
      // The kernel applies `up` before `addrgenmode` within one command, and a bridge without
      // ports is up at once: it would get its link-local address. addrgenmode goes first.
      if (set.addrGenNone && set.up) {
        const { up, ...rest } = set;
        return `link set dev ${a.name} ${setText(rest)}\nlink set dev ${a.name} ${up ? 'up' : 'down'}`;
      }
      return `link set dev ${a.name} ${setText(set)}`;
    }
    case 'addr.add':
      return `addr add ${a.cidr} dev ${a.dev}${a.cidr.includes(':') ? ' nodad' : ''}`;
    case 'addr.del':
      return `addr del ${a.cidr} dev ${a.dev}`;
    case 'route.add':
      return `route add ${routeText(a.route)}`;
    case 'route.replace':
      return `route replace ${routeText(a.route)}`;
    case 'route.del':
      return `route del ${routeText(a.route)}`;
    case 'rule.add':
      return `rule add ${ruleText(a.rule)}`;
    case 'rule.del':
      return `rule del ${ruleText(a.rule)}`;
    default:
      return undefined;
  }
}

function familyOf(a: Action): Family {
  if (a.kind === 'rule.add' || a.kind === 'rule.del') return a.rule.family;
  if (a.kind.startsWith('route.')) return (a as Extract<Action, { route: unknown }>).route.family;
  return 'ipv4';
}

/** Where a root-batch action runs: veths are always created from the root namespace (src/model/linkkinds.ts). */
function batchNs(a: Action): string {
  if (a.kind === 'netns.add' || a.kind === 'netns.del') return HOST;
  if (a.kind === 'link.add' && linkKind(a.link.kind)?.fromRoot) return HOST;
  return a.ns;
}

export function render(actions: Action[], lab = ''): Step[] {
  const steps: Step[] = [];
  for (const phase of PHASES) {
    const inPhase = actions.filter((a) => phaseOf(a) === phase);
    const batches = new Map<string, Step>();
    const batch = (ns: string, family: Family): Step => {
      const k = `${ns}|${family}`;
      let s = batches.get(k);
      if (!s) {
        const argv = inNetns(ns, ['ip', ...(family === 'ipv6' ? ['-6'] : []), ...(phase === 'delete' ? ['-force'] : []), '-batch', '-']);
        s = { phase, ns, argv, lines: [], actions: [], ...(phase === 'delete' ? { tolerant: true } : {}) };
        batches.set(k, s);
      }
      return s;
    };
    const sysctls = new Map<string, Action[]>();
    const restores = new Map<string, Step>();
    const host = new Map<Family, Action[]>();
    const tc = new Map<string, Step>();
    const sets = new Map<string, Step>();
    for (const a of inPhase) {
      const line = ipLine(a);
      const tcl = line === undefined ? tcLine(a) : undefined;
      const setl = ipsetLines(a);
      if (setl !== undefined) {
        // One `ipset restore` per namespace and phase; -exist: a line that finds its work done passes.
        const s = sets.get(a.ns) ?? { phase, ns: a.ns, argv: inNetns(a.ns, ['ipset', '-exist', 'restore']), input: '', lines: [], actions: [] };
        for (const l of setl) {
          s.input += `${l}\n`;
          s.lines.push(a);
        }
        s.actions.push(a);
        sets.set(a.ns, s);
      } else if (tcl !== undefined) {
        // One `tc -batch` per namespace, after its links exist (the configure phase).
        const s = tc.get(a.ns) ?? { phase, ns: a.ns, argv: inNetns(a.ns, ['tc', '-batch', '-']), input: '', lines: [], actions: [] };
        s.input += `${tcl}\n`;
        s.lines.push(a);
        s.actions.push(a);
        tc.set(a.ns, s);
      } else if (line !== undefined) {
        const v6 = (a.kind.startsWith('route.') || a.kind.startsWith('rule.')) && familyOf(a) === 'ipv6';
        const s = batch(batchNs(a), v6 ? 'ipv6' : 'ipv4');
        for (let i = 0; i < line.split('\n').length; i++) s.lines.push(a);
        s.actions.push(a);
        s.input = `${s.input ?? ''}${line}\n`;
      } else if (a.kind === 'sysctl.set') {
        sysctls.set(a.ns, [...(sysctls.get(a.ns) ?? []), a]);
      } else if (a.kind === 'iptables.restore' || a.kind === 'iptables.unhook') {
        // All tables of one namespace and family in one iptables-restore: one spawn, one commit.
        const k = `${a.ns}|${a.family}`;
        const s = restores.get(k) ?? { phase, ns: a.ns, argv: inNetns(a.ns, [restoreTool(a.family), '-w']), input: '', lines: [], actions: [] };
        s.input += a.payload;
        s.actions.push(a);
        restores.set(k, s);
      } else if (a.kind === 'hostipt.add' || a.kind === 'hostipt.del') {
        host.set(a.rule.family, [...(host.get(a.rule.family) ?? []), a]);
      } else if (a.kind === 'process.start') {
        steps.push({ phase, ns: a.ns, argv: startArgv(a.process), lines: [], actions: [a], display: startText(lab, a.process) });
      } else if (a.kind === 'process.adopt') {
        steps.push({ phase, ns: a.ns, argv: [], lines: [], actions: [a], display: `# process ${a.key}: pid ${a.pid} runs already, recorded in the journal` });
      } else if (a.kind === 'process.stop') {
        steps.push({ phase, ns: a.ns, argv: ['kill', '-TERM', '--', `-${a.pid}`], lines: [], actions: [a] });
      }
    }
    steps.push(...batches.values(), ...tc.values(), ...sets.values());
    for (const [ns, as] of sysctls) {
      // A restore of ip_forward rewrites every interface's forwarding: their own values go after it.
      const kv = as.flatMap((a) => (a.kind === 'sysctl.set' ? [`${a.key}=${a.value}`, ...Object.entries(a.restoreSides ?? {}).map(([k, v]) => `${k}=${v}`)] : []));
      const argv = inNetns(ns, ['sysctl', '-q', '-w', ...kv]);
      steps.push({ phase, ns, argv, lines: [], actions: as });
    }
    steps.push(...restores.values());
    for (const [family, as] of host) {
      const del = as.flatMap((a) => (a.kind === 'hostipt.del' ? [a.rule] : []));
      const addRules = as.flatMap((a) => (a.kind === 'hostipt.add' ? [{ ...a.rule, ...(a.at !== undefined ? { at: a.at } : {}) }] : []));
      const input = (del.length ? hostRulesPayload(del, '-D') : '') + (addRules.length ? hostRulesPayload(addRules, '-A') : '');
      steps.push({ phase, ns: HOST, argv: [restoreTool(family), '-w', '--noflush'], input: input.replace(/\n\n/g, '\n'), lines: [], actions: as });
    }
  }
  return steps;
}

/** The steps as a shell script a reader can paste (`plan --commands`, `up --dry-run`). */
export function scriptOf(steps: Step[]): string {
  return steps.map((s) => s.display ?? commandText(s.argv, s.input)).join('\n');
}
