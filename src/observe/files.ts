// What netlab reads from files instead of through commands: the names in NETNS_DIR (what `ip netns
// list` prints, without the nsid lookup it makes per namespace) and /proc/net/dev. Reading them
// costs no process, which matters before every plan and in down's wait loop. Tests give fakes.
import { readFileSync, readdirSync } from 'node:fs';
import { NETNS_DIR } from '../model/types.js';

export interface HostFiles {
  /** Names of the namespaces `ip netns` knows. */
  netns(): string[];
  /** /proc/net/dev of netlab's own (the host's) namespace. */
  procNetDev(): string;
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
