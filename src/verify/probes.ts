// The command each check runs (pure), and the one probe that trace and counters send.
import type { CheckSpec, Family } from '../model/types.js';
import type { CommandRunner, RunResult } from '../runner/runner.js';

const secs = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));

export function checkArgv(c: CheckSpec): { argv: string[]; input?: string } {
  const inNs = ['ip', 'netns', 'exec', c.from];
  switch (c.kind) {
    case 'ping':
      return { argv: [...inNs, 'ping', c.family === 'ipv6' ? '-6' : '-4', '-n', '-c', String(c.count), '-i', '0.2', '-W', secs(c.timeoutMs), ...(c.source ? ['-I', c.source] : []), c.to] };
    case 'tcp': {
      const host = c.family === 'ipv6' ? `TCP6:[${c.to}]` : `TCP4:${c.to}`;
      return { argv: [...inNs, 'socat', '-T', secs(c.timeoutMs), '-u', 'OPEN:/dev/null', `${host}:${c.port},connect-timeout=${secs(c.timeoutMs)}`] };
    }
    case 'udp': {
      const host = c.family === 'ipv6' ? `UDP6:[${c.to}]` : `UDP4:${c.to}`;
      return { argv: [...inNs, 'socat', '-T', secs(c.timeoutMs), '-', `${host}:${c.port}`], input: 'netlab-check\n' };
    }
    case 'exec':
      return { argv: [...inNs, ...c.command] };
    case 'trace':
      return { argv: ['netlab', 'trace', '--from', c.from, '--to', c.to, '--proto', c.proto, ...(c.port ? ['--port', String(c.port)] : [])] };
  }
}

/** One probe: a ping, or one TCP connection or UDP datagram, from a node to an address. */
export interface Probe {
  from: string;
  to: string;
  family: Family;
  proto: 'icmp' | 'tcp' | 'udp';
  port?: number;
}

/** Sends one probe as a check would (one attempt, 1 s to answer, at most 4 s in all). */
export async function sendProbe(runner: CommandRunner, p: Probe): Promise<{ argv: string[]; result: RunResult }> {
  const common = { from: p.from, to: p.to, family: p.family, label: 'probe', expect: 'ok' as const, timeoutMs: 1000, attempts: 1, path: [] };
  const check: CheckSpec = p.proto === 'icmp' ? { ...common, kind: 'ping', count: 1 } : { ...common, kind: p.proto, port: p.port ?? 0 };
  const { argv, input } = checkArgv(check);
  return { argv, result: await runner.run(argv, { ...(input !== undefined ? { input } : {}), timeoutMs: 4000 }) };
}
