// JSON Merge Patch (RFC 7386), for a lab file's variants: objects merge key by key, null removes
// a key, anything else (a list, a scalar) replaces. Pure; neither argument is changed.

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * How far `path` (into the patched data) runs inside the patch: `inside` when the value there
 * comes from the patch (the path ends in it, or enters a list or scalar the patch replaced);
 * otherwise `depth` path segments lie in the patch and the rest comes from the lab file.
 */
export function patchReach(patch: unknown, path: readonly (string | number)[]): { inside: boolean; depth: number } {
  let node = patch;
  for (let i = 0; i < path.length; i++) {
    if (!isObject(node)) return { inside: true, depth: i };
    const k = String(path[i]);
    if (!Object.hasOwn(node, k)) return { inside: false, depth: i };
    node = node[k];
  }
  return { inside: true, depth: path.length };
}
