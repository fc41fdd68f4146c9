// Instances on the command line: LAB@NAME, and the arguments netlab runs with inside the world.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { innerArgs } from '../../src/cli/instance.js';
import { instanceOf, parseInstance } from '../../src/engine/instance.js';

test('LAB@NAME is an instance; a lab name, a file or @host is not', () => {
  assert.deepEqual(parseInstance('bridge-4ns@alice'), { lab: 'bridge-4ns', name: 'alice', key: 'bridge-4ns@alice' });
  for (const s of ['bridge-4ns', 'labs/bridge-4ns.yaml', '@host', 'a@', '@b', 'a@b@c', 'a@b c', `a@${'x'.repeat(33)}`]) assert.equal(parseInstance(s), undefined, s);
  assert.equal(instanceOf('bridge-4ns', 'bob').key, 'bridge-4ns@bob');
  assert.throws(() => instanceOf('bridge-4ns', 'bo b'), /not an instance name/);
});

test('inside the instance, LAB@NAME becomes LAB and --instance goes; nothing after -- is touched', () => {
  assert.deepEqual(innerArgs(['exec', 'l@a', 'ns1', '--', 'ping', 'l@a', '--instance', 'x'], 'exec', 'l@a', 'l'), ['exec', 'l', 'ns1', '--', 'ping', 'l@a', '--instance', 'x']);
  assert.deepEqual(innerArgs(['up', 'labs/x.yaml', '--instance', 'a', '--json'], 'up', 'labs/x.yaml', 'labs/x.yaml'), ['up', 'labs/x.yaml', '--json']);
  assert.deepEqual(innerArgs(['--instance=a', 'up', 'f.yaml'], 'up', 'f.yaml', 'f.yaml'), ['up', 'f.yaml']);
  // The verb's own name as the lab argument: only the one after the verb changes.
  assert.deepEqual(innerArgs(['status', '--json', 'status@a'], 'status', 'status@a', 'status'), ['status', '--json', 'status']);
});
