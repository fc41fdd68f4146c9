// The import-layering rule (.dependency-cruiser.cjs, run by `npm run lint`) is not vacuous: on a
// tiny tree with one import up, one circle and files on no floor it reports exactly those.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEPCRUISE = `${ROOT}node_modules/dependency-cruiser/bin/dependency-cruise.mjs`;

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

function violations(cwd: string): Violation[] {
  let out: string;
  try {
    out = execFileSync(process.execPath, [DEPCRUISE, 'src', '--config', `${ROOT}.dependency-cruiser.cjs`, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (e) {
    // depcruise exits with the number of violations; its report is still on stdout.
    out = (e as { stdout?: string }).stdout ?? '';
    if (!out) throw e;
  }
  return (JSON.parse(out) as { summary: { violations: Violation[] } }).summary.violations;
}

test('the layering rule catches an import up, a circle and files on no floor', () => {
  const seen = violations(`${ROOT}test/fixtures/layers`)
    .map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)
    .sort();
  assert.deepEqual(seen, [
    'floor-0-imports-up: src/core/low.js -> src/cli/high.js',
    'no-circular: src/model/a.js -> src/model/b.js',
    'on-no-floor-alone: src/stray.js -> src/stray.js',
    'on-no-floor-imported: src/cli/uses.js -> src/loose.js',
    'on-no-floor: src/wanderer.js -> src/cli/high.js',
  ]);
});

test("netlab's own imports run one way: no violation in src/", () => {
  assert.deepEqual(
    violations(ROOT).map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`),
    [],
  );
});
