// The record of a lab across hosts that this machine brought up (STATE/hosts/LAB.json): its file
// and its hosts, so that `down LAB` and `check LAB` reach every host after the file is gone.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stateDir } from '../core/state.js';
import type { LabHost } from '../model/types.js';

/** Set in the netlab that a coordinator starts on a host: it acts on that host's part only. */
export const PART_ENV = 'NETLAB_HOST_PART';

export interface HostsRecord {
  lab: string;
  file: string;
  hosts: LabHost[];
  /** Each node's host, by node (absent in records written before it was kept). */
  nodes?: Record<string, string>;
}

const recordPath = (lab: string) => join(stateDir(), 'hosts', `${lab}.json`);

/** The record of a lab across hosts; undefined for any other lab (and inside a host's part). */
export function readHostsRecord(lab: string): HostsRecord | undefined {
  if (process.env[PART_ENV]) return undefined;
  try {
    return JSON.parse(readFileSync(recordPath(lab), 'utf8')) as HostsRecord;
  } catch {
    return undefined;
  }
}

/** Written before any host is touched. */
export function writeHostsRecord(r: HostsRecord): void {
  const f = recordPath(r.lab);
  mkdirSync(join(stateDir(), 'hosts'), { recursive: true });
  writeFileSync(`${f}.tmp`, `${JSON.stringify(r, null, 2)}\n`);
  renameSync(`${f}.tmp`, f);
}

/** Removed once every host is down. */
export function removeHostsRecord(lab: string): void {
  rmSync(recordPath(lab), { force: true });
}
