// The runner's timeout ends the command's whole process group: `sh -c 'sleep N'` killed alone
// would leave the sleep running, holding the output pipe (and the caller) until it ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { ExecaRunner } from '../../src/runner/runner.js';

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
  const r = await new ExecaRunner().run(['sh', '-c', `sleep ${secs}; echo done`], { timeoutMs: 300 });
  const ms = Date.now() - t0;
  assert.equal(r.exitCode, 124);
  assert.match(r.stderr, /timed out after 300 ms/);
  assert.ok(ms < 10_000, `${ms} ms`);
  assert.deepEqual(running(`sleep\0${secs}\0`), [], 'no sleep left');
});

test('what a finished command left behind in its group is ended too', async () => {
  const secs = 80_000 + Math.floor(Math.random() * 9999);
  const r = await new ExecaRunner().run(['sh', '-c', `sleep ${secs} >/dev/null 2>&1 & echo started`], { timeoutMs: 5000 });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'started\n');
  await new Promise((res) => setTimeout(res, 100));
  assert.deepEqual(running(`sleep\0${secs}\0`), []);
});
