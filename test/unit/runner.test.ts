// ExecaRunner.runAll: many commands through a few shells, each result cut out of the shells' streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExecaRunner } from '../../src/runner/runner.js';

test('runAll: every command gets its own output, error and status, in order', async () => {
  const r = await new ExecaRunner().runAll(
    [
      { argv: ['printf', 'no newline'] },
      { argv: ['cat'], input: 'line 1\nline 2' },
      { argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'] },
      { argv: ['netlab-no-such-program'] },
      { argv: ['cat'] },
      { argv: ['printf', '\\036NETLAB_x 1 0\\n'] },
      { argv: ['true'] },
    ],
    2,
  );
  assert.deepEqual(
    r.map((x) => [x.stdout, x.exitCode]),
    [
      ['no newline', 0],
      ['line 1\nline 2\n', 0],
      ['out\n', 3],
      ['', 127],
      ['', 0],
      ['\x1eNETLAB_x 1 0\n', 0],
      ['', 0],
    ],
  );
  assert.deepEqual([r[0]!.stderr, r[2]!.stderr], ['', 'err\n']);
  assert.match(r[3]!.stderr, /not found/);
});
