// What netlab reads from files instead of through commands: the names in NETNS_DIR (what `ip netns
// list` prints, without the nsid lookup it makes per namespace), /proc/net/dev, and the processes
// in /proc (which namespace each is in, its start time). Reading them costs no process, which
// matters before every plan and in down's wait loops. The host's sysctls are read here too (a
// namespace's can only be read from inside it, by a command). Tests give fakes.
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NETNS_DIR } from '../model/types.js';
import type { NsId } from '../model/ownership.js';

export interface HostFiles {
  /** Names of the namespaces `ip netns` knows. */
  netns(): string[];
  /** /proc/net/dev of netlab's own (the host's) namespace. */
  procNetDev(): string;
  /** The inode of NETNS_DIR/NAME (the namespace's nsfs inode, its identity); undefined if absent. */
  netnsInode(name: string): number | undefined;
  /** The pids in /proc (processes, not threads). */
  pids(): number[];
  /** The nsfs inode of PID's network namespace (readlink /proc/PID/ns/net = "net:[INODE]"); undefined if gone or exited. */
  pidNetns(pid: number): number | undefined;
  /** /proc/PID/stat; undefined if gone. */
  pidStat(pid: number): string | undefined;
  /** argv from /proc/PID/cmdline; undefined if gone. */
  pidCmdline(pid: number): string[] | undefined;
  /** Where PID's standard output goes (readlink /proc/PID/fd/1); undefined if gone or closed. */
  pidStdout(pid: number): string | undefined;
  /** /proc/sys/KEY of netlab's own (the host's) namespace, whitespace runs as one space; keys with no readable file are left out. */
  sysctls(keys: string[]): Map<string, string>;
  /** A namespace's identity (its nsfs inode and mtime), undefined when it does not exist (a fake may omit it). */
  nsId?(name: string): NsId | undefined;
  /** The nsfs inode of PID's mount namespace (readlink /proc/PID/ns/mnt); undefined if gone (a fake may omit it). */
  pidMntns?(pid: number): number | undefined;
  /** "DEV INO" of the /run/netns PID sees (which world it is in); undefined if gone or none (a fake may omit it). */
  pidNetnsDir?(pid: number): string | undefined;
  /** A host link's ifindex and mark, from /sys/class/net (a fake may omit it). */
  hostLink?(name: string): { ifindex: number; alias?: string } | undefined;
}

/** The identity of what is bound at PATH: inode and mtime (nanoseconds), or undefined. */
export function fileId(path: string): NsId | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return { ino: Number(st.ino), mtime: `${st.mtimeNs / 1_000_000_000n}.${(st.mtimeNs % 1_000_000_000n).toString().padStart(9, '0')}` };
  } catch {
    return undefined;
  }
}

export const hostFiles: HostFiles = {
  netns: () => {
    try {
      return readdirSync(NETNS_DIR);
    } catch {
      return []; // no namespace was ever added
    }
  },
  procNetDev: () => readFileSync('/proc/net/dev', 'utf8'),
  netnsInode: (name) => {
    try {
      return statSync(join(NETNS_DIR, name)).ino;
    } catch {
      return undefined;
    }
  },
  pids: () =>
    readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number),
  pidNetns: (pid) => {
    try {
      return nsInodeOfLink(readlinkSync(`/proc/${pid}/ns/net`));
    } catch {
      return undefined; // gone, or exited (a zombie has no namespaces left)
    }
  },
  pidStat: (pid) => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return undefined;
    }
  },
  pidCmdline: (pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '').split('\0');
    } catch {
      return undefined;
    }
  },
  pidStdout: (pid) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/1`);
    } catch {
      return undefined;
    }
  },
  sysctls: (keys) => {
    const out = new Map<string, string>();
    for (const k of keys) {
      try {
        const value = sysctlValue(readFileSync(`/proc/sys/${k}`, 'utf8'));
        if (value !== undefined) out.set(k, value);
      } catch {
        // no such key here, or not readable
      }
    }
    return out;
  },
  nsId: (name) => fileId(join(NETNS_DIR, name)),
  pidMntns: (pid) => {
    try {
      return Number(/^mnt:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/mnt`))?.[1]) || undefined;
    } catch {
      return undefined;
    }
  },
  pidNetnsDir: (pid) => {
    try {
      const st = statSync(`/proc/${pid}/root/run/netns`);
      return `${st.dev} ${st.ino}`;
    } catch {
      return undefined;
    }
  },
  hostLink: (name) => {
    try {
      const dir = join('/sys/class/net', name);
      const alias = readFileSync(join(dir, 'ifalias'), 'utf8').trim();
      return { ifindex: Number(readFileSync(join(dir, 'ifindex'), 'utf8')), ...(alias ? { alias } : {}) };
    } catch {
      return undefined;
    }
  },
};

/** A sysctl file's value as `sysctl -n` shows it (its last line, whitespace runs as one space); undefined when empty. */
export function sysctlValue(text: string): string | undefined {
  if (!text) return undefined;
  return text.replace(/\n$/, '').split('\n').at(-1)!.trim().replace(/\s+/g, ' ');
}

/** "net:[4026532281]" -> 4026532281. */
export function nsInodeOfLink(link: string): number | undefined {
  const m = /^net:\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : undefined;
}

export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, T, Z, ... */
  state: string;
  pgrp: number;
  /** Start time in clock ticks after boot (field 22): with the pid, the process's identity. */
  start: string;
}

/** Parses /proc/PID/stat; the command name (field 2) may hold spaces and parentheses. */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text
    .slice(close + 2)
    .trim()
    .split(' ');
  if (rest.length < 20) return undefined;
  return { pid: Number(text.slice(0, open).trim()), comm: text.slice(open + 1, close), state: rest[0]!, pgrp: Number(rest[2]), start: rest[19]! };
}

/** A process that runs (not exited, not a zombie awaiting its parent), from /proc/PID/stat. */
export function liveStat(files: HostFiles, pid: number): ProcStat | undefined {
  const text = files.pidStat(pid);
  const st = text === undefined ? undefined : parseStat(text);
  return st && st.state !== 'Z' && st.state !== 'X' ? st : undefined;
}

export const listNetns = (files: HostFiles = hostFiles): Set<string> => new Set(files.netns());

/**
 * The devices of the host's namespace, from /proc/net/dev ("name: counters"), with the packets
 * each received and dropped on receive (the first and fourth counters).
 */
export function hostDevices(text: string): Map<string, { rxPackets: number; rxDropped: number }> {
  const devs = new Map<string, { rxPackets: number; rxDropped: number }>();
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const c = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    devs.set(line.slice(0, colon).trim(), { rxPackets: c[1] ?? NaN, rxDropped: c[3] ?? NaN });
  }
  return devs;
}
