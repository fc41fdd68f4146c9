// The lab cache: a lab file that `up` applied is kept as loaded (parsed, validated, normalized),
// under a key made of its bytes, its path and netlab's build. A later command on the same
// unchanged file skips parsing and validating it again, and does not even load the YAML and
// schema code: at 200 nodes that is most of what a no-op `up` costs netlab itself. Any change to
// the file, or another netlab build, is another key: the file is loaded and validated in full.
import { sha256 } from '../hash.js';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../model/types.js';
import { stateDir } from '../core/state.js';
import { readLabBytes } from './read.js';

/** This build of netlab: every build rewrites its files. */
const BUILD = (() => {
  const st = statSync(fileURLToPath(import.meta.url));
  return `${st.size}:${st.mtimeMs}`;
})();

const cachePath = (key: string) => join(stateDir(), 'cache', `${key}.json`);

export function labKey(file: string, bytes: Buffer): string {
  return sha256([`${BUILD}\0${resolve(file)}\0`, bytes], 32);
}

/** Maps become {"$map": [[k, v]...]}: a Lab holds Maps (nodes, bridges, iptables tables). */
export function encodeLab(lab: Lab): string {
  return JSON.stringify(lab, (_k, v: unknown) => (v instanceof Map ? { $map: [...v] } : v));
}

export function decodeLab(text: string): Lab {
  // A walk after a plain parse: JSON.parse with a reviver calls it for every value, twice as slow.
  const revive = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = revive(v[i]);
      return v;
    }
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.$map)) return new Map((o.$map as unknown[]).map((e) => revive(e) as [unknown, unknown]));
    for (const k in o) o[k] = revive(o[k]);
    return o;
  };
  return revive(JSON.parse(text)) as Lab;
}

/** Loads a lab file: from the cache when `up` applied these very bytes with this build, else in full. */
export async function loadLabCached(file: string): Promise<Lab> {
  const bytes = readLabBytes(file); // a LabError when it cannot be a lab file: printed as such, exit 2
  const key = labKey(file, bytes);
  try {
    const lab = decodeLab(readFileSync(cachePath(key), 'utf8'));
    return { ...lab, file, key };
  } catch {
    // not cached (or unreadable): load it in full
  }
  const { loadLab } = await import('./lab.js');
  return { ...loadLab(bytes.toString('utf8'), file), key };
}

/** Keeps a lab that was applied; returns the key to record (the previous one's file is removed). */
export function keepLab(lab: Lab, previous: string | undefined): string | undefined {
  if (!lab.key) return previous;
  if (lab.key === previous) return previous;
  const path = cachePath(lab.key);
  mkdirSync(join(stateDir(), 'cache'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, encodeLab({ ...lab, key: undefined } as Lab));
  renameSync(tmp, path);
  if (previous) forgetLab(previous);
  return lab.key;
}

export function forgetLab(key: string | undefined): void {
  if (key) rmSync(cachePath(key), { force: true });
}
