// The host root namespace as text, to prove a test run left it exactly as it found it. The same
// snapshot can be taken inside a World (a private network and mount namespace): give its runner.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';

/** Runs a command where the snapshot is taken: on the host, or inside a World. */
export type Exec = (cmd: string, args: string[]) => { code: number; stdout: string; stderr: string };

export const hostExec: Exec = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return { code: 127, stdout: '', stderr: `${cmd}: not installed` };
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
};

function run(exec: Exec, cmd: string, args: string[]): string {
  const r = exec(cmd, args);
  if (r.code === 127) return `(${cmd} not installed)`;
  return `${r.stdout}${r.code === 0 ? '' : `exit ${r.code}: ${r.stderr}`}`;
}

function json(exec: Exec, cmd: string, args: string[], drop: string[] = []): string {
  const text = run(exec, cmd, args);
  try {
    return JSON.stringify(JSON.parse(text || '[]'), (k: string, v: unknown) => (drop.includes(k) ? undefined : v), 1);
  } catch {
    return text;
  }
}

const SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/ipv6/conf/all/forwarding',
  'net/ipv4/conf/all/rp_filter',
  'net/ipv4/conf/default/rp_filter',
  'net/ipv4/neigh/default/gc_thresh1',
  'net/ipv4/neigh/default/gc_thresh2',
  'net/ipv4/neigh/default/gc_thresh3',
  'net/ipv4/conf/all/proxy_arp',
  'net/ipv4/conf/all/route_localnet',
  'net/core/somaxconn',
];

/** A directory's identity (device and inode): which /run/netns a process sees tells which world it is in. */
export interface DirId {
  dev: number;
  ino: number;
}

export function hostNetnsDir(): DirId | undefined {
  try {
    const st = statSync('/run/netns');
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined; // no namespace was ever added: no lab namespace either
  }
}

/**
 * The processes in lab namespaces, as "netlab:LAB command line": a lab process that outlived its
 * lab. A lab namespace is one whose lo carries netlab's mark (it keeps it for as long as a process
 * holds the namespace, after `ip netns del` too), entered by a process that sees the same
 * /run/netns (a World or a container has its own). A process in a Docker container, a CI sandbox
 * or anybody's unmarked namespace is none of the tests' business.
 */
export function strays(netnsDir: DirId | undefined = hostNetnsDir()): string {
  if (!netnsDir) return '';
  const self = readlinkSync('/proc/self/ns/net');
  const byNs = new Map<string, { pid: string; args: string }[]>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const ns = readlinkSync(`/proc/${pid}/ns/net`);
      if (ns === self) continue;
      const st = statSync(`/proc/${pid}/root/run/netns`);
      if (st.dev !== netnsDir.dev || st.ino !== netnsDir.ino) continue;
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      byNs.set(ns, [...(byNs.get(ns) ?? []), { pid, args }]);
    } catch {
      // gone meanwhile, a kernel thread, or no /run/netns in its world
    }
  }
  const out: string[] = [];
  for (const procs of byNs.values()) {
    // One look at lo per namespace, through a process in it (the namespace may have no name left).
    let mark: string | undefined;
    for (const { pid } of procs) {
      const r = spawnSync('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-j', 'link', 'show', 'lo'], { encoding: 'utf8' });
      if (r.status !== 0) continue;
      try {
        mark = (JSON.parse(r.stdout) as { ifalias?: string }[])[0]?.ifalias;
      } catch {
        mark = undefined;
      }
      break;
    }
    if (mark?.startsWith('netlab:')) out.push(...procs.map((p) => `${mark} ${p.args}`));
  }
  return out.sort().join('\n');
}

export type Snapshot = Record<string, string>;

/**
 * The namespace commands run by `exec` are in, as text, and the lab processes of the world whose
 * /run/netns is `netnsDir`. `everySysctl`: all of `sysctl net.*` (less what moves by itself), not
 * only the keys labs change; for a World, whose sysctls nothing else touches.
 */
export function snapshot(exec: Exec = hostExec, netnsDir: DirId | undefined = hostNetnsDir(), opts: { everySysctl?: boolean } = {}): Snapshot {
  // Counters and bridge timers tick on their own (docker0, a libvirt bridge): not a change.
  const volatile = [
    'valid_life_time',
    'preferred_life_time',
    'stats',
    'stats64',
    'gc_timer',
    'hello_timer',
    'tcn_timer',
    'topology_change_timer',
    'forward_delay_timer',
    'message_age_timer',
    'hold_timer',
    'expires',
  ];
  const save = (cmd: string) =>
    run(exec, cmd, [])
      .replace(/^#.*$/gm, '')
      .replace(/\[\d+:\d+\]/g, '');
  return {
    netns: run(exec, 'ip', ['netns', 'list']),
    links: json(exec, 'ip', ['-j', '-d', 'link', 'show'], volatile),
    addrs: json(exec, 'ip', ['-j', 'addr', 'show'], volatile),
    routes: json(exec, 'ip', ['-j', 'route', 'show', 'table', 'all'], volatile),
    routes6: json(exec, 'ip', ['-6', '-j', 'route', 'show', 'table', 'all'], volatile),
    rules4: json(exec, 'ip', ['-j', 'rule', 'show']),
    rules6: json(exec, 'ip', ['-6', '-j', 'rule', 'show']),
    iptables: save('iptables-save'),
    ip6tables: save('ip6tables-save'),
    nft: run(exec, 'nft', ['list', 'ruleset']).replace(/counter packets \d+ bytes \d+/g, 'counter'),
    sysctls: opts.everySysctl
      ? // Without what moves by itself: conntrack counts, ICMP rate tokens, route cache timers.
        run(exec, 'sh', ['-c', "sysctl -a -r '^net\\.' 2>/dev/null | grep -v -E 'nf_conntrack_count|stable_secret|base_reachable_time|icmp_msgs_burst|route\\.gc_'"])
      : run(exec, 'grep', ['-H', '', ...SYSCTLS.map((k) => `/proc/sys/${k}`)]),
    strayProcesses: strays(netnsDir),
  };
}

export function compare(before: Snapshot, after: Snapshot): string[] {
  const diffs: string[] = [];
  for (const k of Object.keys(before)) {
    if (before[k] === after[k]) continue;
    const a = before[k]!.split('\n');
    const b = (after[k] ?? '').split('\n');
    const gone = a.filter((l) => !b.includes(l));
    const added = b.filter((l) => !a.includes(l));
    diffs.push(`${k}:\n${gone.map((l) => `  - ${l}`).join('\n')}\n${added.map((l) => `  + ${l}`).join('\n')}`);
  }
  return diffs;
}
