// Where netlab's own files are (schemas/, src/helpers/), from wherever its code runs: dist/src/...
// as tsc builds it, or dist/bundle/ as `npm run build` bundles it for the `netlab` command.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  const here = fileURLToPath(import.meta.url);
  for (let dir = dirname(here); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'schemas', 'lab.schema.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`netlab: no schemas/lab.schema.json in any directory above ${here}`);
  }
}

/** The directory netlab is installed in (its package root). */
export const ROOT = findRoot();
export const SCHEMA_PATH = join(ROOT, 'schemas', 'lab.schema.json');
/** Helpers that ship with netlab (e.g. origdst-echo.py), for lab processes and exec checks. */
export const HELPERS_DIR = join(ROOT, 'src', 'helpers');
