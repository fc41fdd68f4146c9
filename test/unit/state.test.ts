// Damaged state, pure parts: journals that are truncated or of the wrong shape, an empty lock
// file, an unusable state directory, and how many problems a terminal gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalError, newJournal, readJournal, scanJournals, stateDirError, writeJournal } from '../../src/state/journal.js';
import { LockError, acquireLock, readLock, takeOver, waitLock } from '../../src/state/lock.js';
import { formatProblems, PRINTED_PROBLEMS, LabError } from '../../src/load/problems.js';
import { printable } from '../../src/core/errors.js';

function withState(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'netlab-unit-'));
  const old = process.env.NETLAB_STATE_DIR;
  process.env.NETLAB_STATE_DIR = dir;
  try {
    fn(dir);
  } finally {
    if (old === undefined) delete process.env.NETLAB_STATE_DIR;
    else process.env.NETLAB_STATE_DIR = old;
    rmSync(dir, { recursive: true, force: true });
  }
}

test('journals: a damaged one is a JournalError naming the file; the others are listed', () => {
  withState((dir) => {
    writeJournal(newJournal('good', '/good.yaml'));
    const labs = join(dir, 'labs');
    const cases: [string, string, RegExp][] = [
      ['trunc', '{"version": 1, "lab": "tr', /not valid JSON .*truncated\?/],
      ['empty', '', /empty file/],
      ['list', '[]', /not a JSON object/],
      ['other', JSON.stringify({ ...newJournal('x', '/x.yaml') }), /names lab "x", not other/],
      ['shape', JSON.stringify({ ...newJournal('shape', '/s.yaml'), hostLinks: {} }), /'hostLinks' is not a list/],
      ['names', JSON.stringify({ ...newJournal('names', '/s.yaml'), namespaces: [1] }), /'namespaces' holds something other than names/],
      ['procs', JSON.stringify({ ...newJournal('procs', '/s.yaml'), processes: [] }), /'processes' is not an object/],
    ];
    for (const [lab, text] of cases) writeFileSync(join(labs, `${lab}.json`), text);
    for (const [lab, , why] of cases) {
      assert.throws(
        () => readJournal(lab),
        (e: unknown) => e instanceof JournalError && e.path === join(labs, `${lab}.json`) && why.test(e.reason) && /netlab gc /.test(e.hint ?? ''),
        lab,
      );
    }
    const scan = scanJournals();
    assert.deepEqual(
      scan.journals.map((j) => j.lab),
      ['good'],
    );
    assert.deepEqual(scan.damaged.map((d) => d.lab).sort(), cases.map(([l]) => l).sort());
    assert.equal(readJournal('absent'), undefined);
  });
});

test('an unusable state directory is one CliError naming NETLAB_STATE_DIR', () => {
  withState((dir) => {
    const file = join(dir, 'file');
    writeFileSync(file, '');
    process.env.NETLAB_STATE_DIR = file;
    assert.throws(
      () => scanJournals(),
      (e: unknown) => e instanceof Error && /NETLAB_STATE_DIR=.*file is unusable: it, or a path in it, is not a directory/.test(e.message),
    );
    assert.throws(
      () => writeJournal(newJournal('a', '/a.yaml')),
      (e: unknown) => stateDirError(e) !== undefined,
    );
    assert.equal(stateDirError(new Error('other')), undefined);
    assert.equal(stateDirError(Object.assign(new Error('x'), { code: 'EACCES', path: '/elsewhere' })), undefined);
  });
});

test('an empty lock file is being taken (refused) while young, stale when old', () => {
  withState((dir) => {
    mkdirSync(join(dir, 'locks'));
    const path = join(dir, 'locks', 'l1.lock');
    writeFileSync(path, '');
    assert.throws(
      () => acquireLock('l1'),
      (e: unknown) => e instanceof LockError && /being locked by another netlab right now/.test(e.message),
    );
    assert.ok(existsSync(path));
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const release = acquireLock('l1');
    release();
    assert.ok(!existsSync(path));
  });
});

test('locks: a stale lock is taken over only as judged; a fresh one taken meanwhile is put back', () => {
  withState((dir) => {
    mkdirSync(join(dir, 'locks'));
    const path = join(dir, 'locks', 'l2.lock');
    writeFileSync(path, '999999999\n'); // a dead holder
    const judged = readLock(path).id;
    takeOver(path, judged);
    assert.ok(!existsSync(path), 'the stale lock judged is gone');
    // Another netlab took the lock over in between: the file is not the one judged, it goes back.
    writeFileSync(path, `${process.ppid}\n`);
    takeOver(path, judged);
    assert.equal(readFileSync(path, 'utf8'), `${process.ppid}\n`, 'the fresh lock stays');
    assert.deepEqual(readdirSync(join(dir, 'locks')), ['l2.lock'], 'no takeover file left');
    // A takeover killed halfway left its turn file: the next takeover waits for it, then removes it once old.
    const stale = readLock(path).id;
    writeFileSync(`${path}.takeover`, '');
    assert.equal(takeOver(path, stale), false, 'another takeover is under way');
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${path}.takeover`, old, old);
    assert.equal(takeOver(path, stale), false);
    assert.equal(takeOver(path, stale), true, 'the old turn file is gone: the judged lock is removed');
    assert.deepEqual(readdirSync(join(dir, 'locks')), []);
  });
});

test('waitLock: waits while a live netlab holds the lock, then says what is held and by whom', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netlab-unit-'));
  const old = process.env.NETLAB_STATE_DIR;
  process.env.NETLAB_STATE_DIR = dir;
  try {
    mkdirSync(join(dir, 'locks'));
    writeFileSync(join(dir, 'locks', '@w.lock'), `${process.ppid}\n`); // alive: the test runner
    await assert.rejects(
      waitLock('@w', 200, "the real host's uplinks"),
      (e: unknown) => e instanceof LockError && /^the real host's uplinks: another netlab has held them for over 200 ms/.test(e.message),
    );
    setTimeout(() => rmSync(join(dir, 'locks', '@w.lock')), 100);
    const release = await waitLock('@w', 5000, 'x');
    release();
  } finally {
    if (old === undefined) delete process.env.NETLAB_STATE_DIR;
    else process.env.NETLAB_STATE_DIR = old;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('problems: the first 100 printed, then how many more; control characters escaped', () => {
  const ps = Array.from({ length: 250 }, (_, i) => ({ file: 'f.yaml', line: i + 1, col: 1, path: `nodes["a\u0000${i}"]`, message: `bad \u001b[31m${i}` }));
  const lines = formatProblems(ps);
  assert.equal(lines.length, PRINTED_PROBLEMS + 1);
  assert.equal(lines[PRINTED_PROBLEMS], '... and 150 more problems (netlab validate --json FILE lists every one)');
  assert.equal(lines[0], 'f.yaml:1:1: error: nodes["a\\x000"]: bad \\x1b[31m0');
  assert.match(new LabError(ps).text(), /\n250 problems found; nothing was changed$/);
  assert.equal(printable('a\tb\nc\x7f'), 'a\tb\nc\\x7f');
});
