// A broken lab file never creates anything: `netlab up` as root on every file of the invalid
// corpus (test/fixtures/invalid/, whose messages and locations test/unit/validate.test.ts checks)
// exits 2 with FILE:LINE:COL errors and no stack trace, and leaves the host, the state directory
// and the namespace list exactly as they were.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT, isRoot, stateDir, type CliResult } from '../lib/host.js';
import { compare, snapshot } from '../lib/snapshot.js';
import { parallel } from '../../src/runner/runner.js';

const INVALID = join(ROOT, 'test/fixtures/invalid');
const state = stateDir();

function upAsync(file: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'up', file], { env: { ...process.env, NETLAB_STATE_DIR: state.dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('up on invalid lab files, as root', { skip: !isRoot && 'needs root: up is refused before validation without it' }, () => {
  after(() => state.cleanup());

  test('every file of the invalid corpus: exit 2, FILE:LINE:COL errors, no stack trace, nothing created', async (t) => {
    const files = readdirSync(INVALID)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    assert.ok(files.length >= 40, `only ${files.length} invalid fixtures`);
    const before = snapshot();
    const results = await parallel(files, 4, (f) => upAsync(join(INVALID, f)));
    const bad: string[] = [];
    files.forEach((f, i) => {
      const r = results[i]!;
      const path = join(INVALID, f);
      const why: string[] = [];
      if (r.code !== 2) why.push(`exit ${r.code}, expected 2`);
      if (!r.stderr.startsWith(`${path}:`) || !/^\S+:\d+:\d+: error: /.test(r.stderr)) why.push('stderr does not start with FILE:LINE:COL: error:');
      if (/^\s+at .+:\d+:\d+\)?$/m.test(r.stderr)) why.push('a stack trace');
      if (why.length) bad.push(`${f}: ${why.join('; ')}\n    ${`${r.stdout}${r.stderr}`.trim().split('\n').slice(0, 4).join('\n    ')}`);
    });
    assert.deepEqual(bad, [], `fixtures that up did not refuse cleanly:\n${bad.join('\n')}`);
    // The snapshot holds the namespace list and every host link, route, rule and table.
    assert.deepEqual(compare(before, snapshot()), [], "nothing created: the host's root namespace and its namespace list are untouched");
    const journals = join(state.dir, 'labs');
    assert.deepEqual(existsSync(journals) ? readdirSync(journals) : [], [], 'no journal written');
    t.diagnostic(`${files.length} invalid files refused by up, nothing created`);
  });
});
