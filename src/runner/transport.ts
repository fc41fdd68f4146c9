// How netlab runs a command on one host of a lab across hosts: here (no prefix), through the
// OpenSSH client (the user's keys, agent and ~/.ssh/config; one shared connection per host, as
// Ansible's ssh connection does), or under an argv prefix that enters the host (`docker exec -i
// NAME`, or an nsenter into a simulated host in the tests). A transport only makes argv: the
// command still runs through the CommandRunner.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shellQuote } from '../core/shell.js';
import type { LabHost } from '../model/types.js';

export interface Transport {
  /** Says how the host is reached, for messages: "local", "ssh root@10.0.0.2", "exec docker exec -i n1". */
  readonly via: string;
  /** The argv that runs `cmd` (an argv) on the host; with `tty`, on a terminal there (ssh -t), for an interactive command. */
  argv(cmd: string[], opts?: { tty?: boolean }): string[];
}

/** The ssh client: NETLAB_SSH_COMMAND when set (like GIT_SSH_COMMAND: `ssh -F FILE`, split on spaces), else ssh. */
export function sshCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  const c = env.NETLAB_SSH_COMMAND?.trim();
  return c ? c.split(/\s+/) : ['ssh'];
}

/** [USER@]HOST[:PORT] -> ssh's destination and port. */
export function sshTarget(dest: string): { dest: string; port?: string } {
  const m = /^(.*?)(?::(\d+))?$/.exec(dest)!;
  return { dest: m[1]!, ...(m[2] ? { port: m[2] } : {}) };
}

export function transportOf(h: LabHost, env: NodeJS.ProcessEnv = process.env): Transport {
  const sudo = h.sudo ? ['sudo', '-n', '--'] : [];
  const r = h.reach;
  if ('ssh' in r) {
    const { dest, port } = sshTarget(r.ssh);
    // ControlPath under the temp directory, short (a socket path is at most 108 bytes): %C is a hash of host, port and user.
    const opts = ['-o', 'ControlMaster=auto', '-o', `ControlPath=${join(tmpdir(), 'netlab-ssh-%C')}`, '-o', 'ControlPersist=60', '-o', 'BatchMode=yes', ...(port ? ['-p', port] : [])];
    const ssh = (tty?: boolean) => [...sshCommand(env), ...opts, ...(tty ? ['-t'] : []), dest, '--'];
    // ssh joins its arguments into one line for the remote shell: quote each.
    return { via: `ssh ${r.ssh}`, argv: (cmd, o) => [...ssh(o?.tty), shellQuote([...sudo, ...cmd])] };
  }
  if ('exec' in r) return { via: `exec ${r.exec.join(' ')}`, argv: (cmd) => [...r.exec, ...sudo, ...cmd] };
  return { via: 'local', argv: (cmd) => [...sudo, ...cmd] };
}
