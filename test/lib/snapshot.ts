// The host root namespace as text, to prove a test run left it exactly as it found it.
import { spawnSync } from 'node:child_process';

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return `(${cmd} not installed)`;
  return `${r.stdout ?? ''}${r.status === 0 ? '' : `exit ${r.status}: ${r.stderr}`}`;
}

function json(cmd: string, args: string[], drop: string[] = []): string {
  const text = run(cmd, args);
  try {
    return JSON.stringify(JSON.parse(text || '[]'), (k: string, v: unknown) => (drop.includes(k) ? undefined : v), 1);
  } catch {
    return text;
  }
}

const SYSCTLS = [
  'net/ipv4/ip_forward', 'net/ipv6/conf/all/forwarding', 'net/ipv4/conf/all/rp_filter', 'net/ipv4/conf/default/rp_filter',
  'net/ipv4/neigh/default/gc_thresh1', 'net/ipv4/neigh/default/gc_thresh2', 'net/ipv4/neigh/default/gc_thresh3',
  'net/ipv4/conf/all/proxy_arp', 'net/ipv4/conf/all/route_localnet', 'net/core/somaxconn',
];

function strays(): string {
  const root = run('readlink', ['/proc/self/ns/net']).trim().replace(/\D/g, '');
  return run('ps', ['-e', '-o', 'netns=,comm=', '-o', 'args='])
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('-') && !l.trim().startsWith(root))
    .map((l) => l.trim().split(/\s+/).slice(1).join(' '))
    .sort()
    .join('\n');
}

export type Snapshot = Record<string, string>;

export function snapshot(): Snapshot {
  // Counters and bridge timers tick on their own (docker0, a libvirt bridge): not a change.
  const volatile = ['valid_life_time', 'preferred_life_time', 'stats', 'stats64', 'gc_timer', 'hello_timer', 'tcn_timer', 'topology_change_timer', 'forward_delay_timer', 'message_age_timer', 'hold_timer'];
  return {
    netns: run('ip', ['netns', 'list']),
    links: json('ip', ['-j', '-d', 'link', 'show'], volatile),
    addrs: json('ip', ['-j', 'addr', 'show'], volatile),
    routes: json('ip', ['-j', 'route', 'show', 'table', 'all'], ['expires']),
    rules4: json('ip', ['-j', 'rule', 'show']),
    rules6: json('ip', ['-6', '-j', 'rule', 'show']),
    iptables: run('iptables-save', []).replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, ''),
    ip6tables: run('ip6tables-save', []).replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, ''),
    nft: run('nft', ['list', 'ruleset']).replace(/counter packets \d+ bytes \d+/g, 'counter'),
    sysctls: run('grep', ['-H', '', ...SYSCTLS.map((k) => `/proc/sys/${k}`)]),
    // Processes in any network namespace but the host's: a lab process that outlived its lab.
    strayProcesses: strays(),
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
