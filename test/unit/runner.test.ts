// The process runner: runAll's batching through a few real `sh -s` processes (each command gets
// exactly its own output, error, status and input), and timeouts that end a command's whole process
// group (`sh -c 'sleep N'` killed alone would leave the sleep running, holding the caller).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { ProcessRunner } from '../../src/runner/runner.js';

const runner = new ProcessRunner();

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
  const r = await runner.runAll(
    args.map((a) => ({ argv: ['printf', '%s', a] })),
    2,
  );
  assert.deepEqual(
    r.map((x) => x.stdout),
    args,
  );
});

test('runAll: a missing program is exit 127 for that command only; the others run', async () => {
  const r = await runner.runAll([{ argv: ['true'] }, { argv: ['netlab-no-such-program'] }, { argv: ['echo', 'still'] }, { argv: ['false'] }], 2);
  assert.deepEqual(
    r.map((x) => x.exitCode),
    [0, 127, 0, 1],
  );
  assert.equal(r[2]!.stdout, 'still\n');
});

const running = (cmdline: string) =>
  readdirSync('/proc').filter((p) => {
    try {
      return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8') === cmdline;
    } catch {
      return false;
    }
  });

test('a timeout kills the process group: sh and the sleep it started', async () => {
  const secs = 70_000 + Math.floor(Math.random() * 9999);
  const t0 = Date.now();
  const r = await new ProcessRunner().run(['sh', '-c', `sleep ${secs}; echo done`], { timeoutMs: 300 });
  const ms = Date.now() - t0;
  assert.equal(r.exitCode, 124);
  assert.match(r.stderr, /timed out after 300 ms/);
  assert.ok(ms < 10_000, `${ms} ms`);
  assert.deepEqual(running(`sleep\0${secs}\0`), [], 'no sleep left');
});

test('what a finished command left behind in its group is ended too', async () => {
  const secs = 80_000 + Math.floor(Math.random() * 9999);
  const r = await new ProcessRunner().run(['sh', '-c', `sleep ${secs} >/dev/null 2>&1 & echo started`], { timeoutMs: 5000 });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'started\n');
  await new Promise((res) => setTimeout(res, 100));
  assert.deepEqual(running(`sleep\0${secs}\0`), []);
});

test('runAll: output without a final newline, a missing program, and a line that looks like the output markers', async () => {
  const r = await new ProcessRunner().runAll(
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

test('runBytes keeps binary output as bytes and says why a program could not be started; foreground gives the status a shell reports', async () => {
  const r = await runner.runBytes(['sh', '-c', 'cat; printf "\\001\\377"; echo oops >&2; exit 2'], 'in');
  assert.deepEqual([...r.stdout], [...Buffer.from('in'), 1, 255]);
  assert.equal(r.stderr, 'oops\n');
  assert.equal(r.exitCode, 2);
  const missing = await runner.runBytes(['/nonexistent/dot', '-Tpng'], '');
  assert.equal(missing.startError?.code, 'ENOENT');
  assert.equal(await runner.foreground(['sh', '-c', 'exit 3']), 3);
  assert.equal(await runner.foreground(['sh', '-c', 'kill -TERM $$']), 143);
  await assert.rejects(runner.foreground(['/nonexistent/prog']), { code: 'ENOENT' });
});
