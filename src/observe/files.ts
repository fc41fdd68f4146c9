// What netlab reads from files instead of through commands: the names in NETNS_DIR (what `ip netns
// list` prints, without the nsid lookup it makes per namespace) and /proc/net/dev. Reading them
// costs no process, which matters before every plan and in down's wait loop. Tests give fakes.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NETNS_DIR } from '../model/types.js';
import type { NsId } from '../state/ownership.js';

export interface HostFiles {
  /** Names of the namespaces `ip netns` knows. */
  netns(): string[];
  /** /proc/net/dev of netlab's own (the host's) namespace. */
  procNetDev(): string;
  /** A namespace's identity (its nsfs inode and mtime), undefined when it does not exist (a fake may omit it). */
  nsId?(name: string): NsId | undefined;
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
  nsId: (name) => fileId(join(NETNS_DIR, name)),
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
    const c = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    devs.set(line.slice(0, colon).trim(), { rxPackets: c[1] ?? NaN, rxDropped: c[3] ?? NaN });
  }
  return devs;
}
