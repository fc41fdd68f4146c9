// The process runner's batching: runAll runs many commands through a few real `sh -s` processes
// and must give each command exactly its own output, error, status and standard input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExecaRunner } from '../../src/runner/runner.js';

const runner = new ExecaRunner();

test('runAll: every command gets its own stdout, stderr, exit status and input, in order', async () => {
  const cmds = Array.from({ length: 25 }, (_, i) => ({ argv: ['sh', '-c', `echo out${i}; echo err${i} >&2; exit ${i % 4}`] }));
  const r = await runner.runAll(cmds, 3);
  assert.equal(r.length, 25);
  r.forEach((x, i) => assert.deepEqual(x, { stdout: `out${i}\n`, stderr: `err${i}\n`, exitCode: i % 4 }));
});

test('runAll: input with quotes, $, backslashes, a line that looks like the delimiter, no final newline', async () => {
  const tricky = [`a 'quoted' "line" $HOME \`x\` \\n`, 'EOF\nNETLAB_EOF\n', '', 'no newline at the end'];
  const cmds = [...tricky, ...tricky].map((input) => ({ argv: ['cat'], input }));
  const r = await runner.runAll(cmds, 2);
  r.forEach((x, i) => {
    const want = cmds[i]!.input;
    assert.equal(x.exitCode, 0);
    assert.equal(x.stdout, want === '' || want.endsWith('\n') ? want : `${want}\n`);
  });
});

test('runAll: arguments are passed as they are, never interpreted by the shell', async () => {
  const args = ['$(touch /tmp/netlab-should-not-exist)', 'a;b', "it's", '*', '`id`'];
  const r = await runner.runAll(args.map((a) => ({ argv: ['printf', '%s', a] })), 2);
  assert.deepEqual(r.map((x) => x.stdout), args);
});

test('runAll: a missing program is exit 127 for that command only; the others run', async () => {
  const r = await runner.runAll([{ argv: ['true'] }, { argv: ['netlab-no-such-program'] }, { argv: ['echo', 'still'] }, { argv: ['false'] }], 2);
  assert.deepEqual(r.map((x) => x.exitCode), [0, 127, 0, 1]);
  assert.equal(r[2]!.stdout, 'still\n');
});
