// The ground floor's shared pieces: the one shell quoter, the one benign-failure rule, the one sleep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandText, shellQuote, shellWord } from '../../src/core/shell.js';
import { onlyGone } from '../../src/core/errors.js';
import { sleep } from '../../src/core/time.js';

test('shell quoting: plain words stay as they are, the rest is single-quoted; here-documents end at their delimiter', () => {
  assert.equal(shellWord('/tmp/netlab-x'), '/tmp/netlab-x');
  assert.equal(shellWord(''), "''");
  assert.equal(shellWord('a b'), "'a b'");
  assert.equal(shellQuote(['ip', '-n', 'ns 1', "it's"]), `ip -n 'ns 1' 'it'\\''s'`);
  assert.equal(commandText(['ip', '-batch', '-'], 'link del a'), "ip -batch - <<'EOF'\nlink del a\nEOF");
  assert.equal(commandText(['sh', '-s'], 'x\n', 'END'), "sh -s <<'END'\nx\nEND");
  assert.equal(commandText(['cat'], ''), "cat <<'EOF'\nEOF", 'empty input: an empty here-document');
});

test('onlyGone: a failure is benign when every stderr line says the object is gone already', () => {
  assert.ok(onlyGone(''));
  assert.ok(onlyGone('Cannot find device "veth1"\nCommand failed -:3\n'));
  assert.ok(onlyGone('Cannot open network namespace "x": No such file or directory'));
  assert.ok(onlyGone('RTNETLINK answers: No such process'));
  assert.ok(onlyGone('Error: the rule does not exist'));
  assert.ok(!onlyGone('RTNETLINK answers: Operation not permitted'));
  assert.ok(!onlyGone('Cannot find device "veth1"\nRTNETLINK answers: File exists'), 'one other line makes it a failure');
});

test('sleep waits at least as long as asked', async () => {
  const t = Date.now();
  await sleep(20);
  assert.ok(Date.now() - t >= 15);
});

test('columns: two spaces apart, as wide as the widest cell or the least width, right-aligned numbers under a rule, shrunk to fit', async () => {
  const { columns } = await import('../../src/core/table.js');
  assert.deepEqual(
    columns(
      [
        ['ok', 'ip', 'everything'],
        ['MISSING', 'tcpdump', 'capture'],
      ],
      { min: [9] },
    ),
    ['ok         ip       everything', 'MISSING    tcpdump  capture'],
  );
  assert.deepEqual(
    columns(
      [
        ['N', 'up'],
        ['10', '0.5'],
        ['200', '12.25'],
      ],
      { align: ['left', 'right'], rule: true },
    ),
    ['N       up', '---  -----', '10     0.5', '200  12.25'],
  );
  const wide = columns([['a', 'x'.repeat(30)]], { max: 20 });
  assert.deepEqual(wide, [`a  ${'x'.repeat(14)}…`]);
});
