// The `netlab` command is an esbuild bundle split at every lazy import: what the entry chunk loads
// at every start (statically, transitively) must not hold the terminal UI, the YAML parser or the
// schema validator, which only some commands need (`down`, `exec`, `logs` load none of them); and
// `up` starts reading the kernel before the task list's and the terminal's modules are loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Meta {
  outputs: Record<string, { entryPoint?: string; imports: { path: string; kind: string }[]; inputs: Record<string, unknown> }>;
}

const meta = (): Meta => JSON.parse(readFileSync(join(ROOT, 'dist/bundle-meta.json'), 'utf8')) as Meta;

/** The source files loaded with the output chunk that holds `input`: it and its static imports, transitively. */
function loadedWith(m: Meta, input: RegExp): string[] {
  const start = Object.keys(m.outputs).find((o) => Object.keys(m.outputs[o]!.inputs).some((i) => input.test(i)));
  assert.ok(start, `no chunk holds ${input}`);
  const seen = new Set<string>();
  const walk = (out: string) => {
    if (seen.has(out) || !m.outputs[out]) return;
    seen.add(out);
    for (const i of m.outputs[out]!.imports) if (i.kind === 'import-statement') walk(i.path);
  };
  walk(start);
  return [...seen].flatMap((o) => Object.keys(m.outputs[o]!.inputs));
}

test('the entry chunk and what it imports statically hold no ink, react, yaml or ajv', () => {
  const m = meta();
  const inputs = loadedWith(m, /cli\/main\.js$/);
  const heavy = inputs.filter((i) => /node_modules\/(ink|react|react-reconciler|yaml|ajv|listr2)\//.test(i));
  assert.deepEqual(heavy, [], `loaded at every start: ${heavy.slice(0, 5).join(', ')}`);
  // Nor the planner or teardown: each command loads the use case it runs.
  const ours = inputs.filter((i) => /src\/(engine\.js|engine\/|apply\/|plan\/)/.test(i));
  assert.deepEqual(ours, [], `loaded at every start: ${ours.slice(0, 5).join(', ')}`);
  // The same walk does find them behind the lazy imports: the check is not vacuous.
  const all = Object.values(m.outputs).flatMap((o) => Object.keys(o.inputs));
  for (const pkg of ['ink', 'react', 'yaml', 'ajv', 'listr2'])
    assert.ok(
      all.some((i) => i.includes(`node_modules/${pkg}/`)),
      `${pkg} is in the bundle`,
    );
});

test("up's view loads listr2, Ink and React lazily: the engine starts reading the kernel without them", () => {
  const inputs = loadedWith(meta(), /ui\/session\.js$/);
  assert.ok(inputs.some((i) => i.includes('engine/up.js')));
  const ui = inputs.filter((i) => /node_modules\/(ink|react|listr2)\//.test(i));
  assert.deepEqual(ui, [], `loaded before up starts: ${ui.slice(0, 5).join(', ')}`);
});
