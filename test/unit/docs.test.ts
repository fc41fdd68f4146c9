// The docs that are generated cannot drift from what they document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { COMMANDS_DOC, reference, withReference } from '../../src/cli/build-docs.js';

test("docs/commands.md holds every command's --help as netlab prints it (npm run docs)", () => {
  const page = readFileSync(COMMANDS_DOC, 'utf8');
  const body = reference();
  assert.match(body, /^### netlab up\n\n```text\nUsage: netlab up /m);
  assert.match(body, /^Examples:$/m);
  assert.ok(page === withReference(page, body), 'docs/commands.md is out of date: run npm run docs');
});

test('every command has an example in its --help', () => {
  const blocks = reference().split(/^### /m).slice(2);
  const without = blocks.filter((b) => !/^Examples:$/m.test(b)).map((b) => b.split('\n')[0]);
  assert.deepEqual(without, []);
});
