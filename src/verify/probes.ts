// The command each check runs (pure): what verify runs and what trace sends as its probe.
import type { CheckSpec } from '../model/types.js';

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
