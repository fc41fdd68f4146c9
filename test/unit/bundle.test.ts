// The `netlab` command is an esbuild bundle split at every lazy import: what the entry chunk loads
// at every start (statically, transitively) must not hold the terminal UI, the YAML parser or the
// schema validator, which only some commands need (`down`, `exec`, `logs` load none of them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Meta {
  outputs: Record<string, { entryPoint?: string; imports: { path: string; kind: string }[]; inputs: Record<string, unknown> }>;
}

test('the entry chunk and what it imports statically hold no ink, react, yaml or ajv', () => {
  const meta = JSON.parse(readFileSync(join(ROOT, 'dist/bundle-meta.json'), 'utf8')) as Meta;
  const entry = Object.keys(meta.outputs).find((o) => o.endsWith('/netlab.js'));
  assert.ok(entry, 'no netlab.js entry in the bundle');
  const seen = new Set<string>();
  const walk = (out: string) => {
    if (seen.has(out) || !meta.outputs[out]) return;
    seen.add(out);
    for (const i of meta.outputs[out]!.imports) if (i.kind === 'import-statement') walk(i.path);
  };
  walk(entry);
  const inputs = [...seen].flatMap((o) => Object.keys(meta.outputs[o]!.inputs));
  assert.ok(
    inputs.some((i) => i.includes('cli/main.js')),
    'the walk found the CLI itself',
  );
  const heavy = inputs.filter((i) => /node_modules\/(ink|react|react-reconciler|yaml|ajv)\//.test(i));
  assert.deepEqual(heavy, [], `loaded at every start: ${heavy.slice(0, 5).join(', ')}`);
  // The same walk does find them behind the lazy imports: the check is not vacuous.
  const all = Object.values(meta.outputs).flatMap((o) => Object.keys(o.inputs));
  for (const pkg of ['ink', 'react', 'yaml', 'ajv'])
    assert.ok(
      all.some((i) => i.includes(`node_modules/${pkg}/`)),
      `${pkg} is in the bundle`,
    );
});
