// Instances on the command line: LAB@NAME, and the arguments netlab runs with inside the world.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { innerArgs } from '../../src/cli/instance.js';
import { instanceOf, parseInstance } from '../../src/engine/instance.js';
import { worldPids } from '../../src/world/world.js';
import { fakeFiles } from '../lib/fixtures.js';

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

test("a world's processes: in its network or mount namespace, or seeing its /run/netns (ip netns exec); nothing else", () => {
  const procs: Record<number, { net: number; mnt: number; dir?: string }> = {
    10: { net: 500, mnt: 1 }, // a shell in the world's host namespace
    11: { net: 2, mnt: 600 }, // entered the world's mounts alone
    12: { net: 3, mnt: 4, dir: '0 77' }, // a lab process: its node's namespace, ip netns exec's mounts
    13: { net: 3, mnt: 4, dir: '0 78' }, // another world's
    14: { net: 1, mnt: 1, dir: '0 1' }, // the host's
  };
  const files = {
    ...fakeFiles(),
    pids: () => Object.keys(procs).map(Number),
    pidNetns: (p: number) => procs[p]?.net,
    pidMntns: (p: number) => procs[p]?.mnt,
    pidNetnsDir: (p: number) => procs[p]?.dir,
  };
  assert.deepEqual(worldPids({ net: 500, mnt: 600, netnsDir: '0 77' }, files), [10, 11, 12]);
  // A world killed while being made has no /run/netns of its own yet: never matched by an empty one.
  assert.deepEqual(worldPids({ net: 500, mnt: 0, netnsDir: '' }, { ...files, pidNetnsDir: () => '' }), [10]);
});

test('uplink: the first /30 of 169.254.240.0/20 that overlaps nothing of the real host; an interface name of 15 characters at most', async () => {
  const { freeSlash30, uplinkIf } = await import('../../src/engine/uplink.js');
  assert.deepEqual(freeSlash30([]), { hostAddr: '169.254.240.1', worldAddr: '169.254.240.2' });
  // Another instance's uplink (its address and its connected route), and routes of /24 or longer.
  assert.deepEqual(freeSlash30(['169.254.240.1/32', '169.254.240.0/30', '10.0.0.1/32']), { hostAddr: '169.254.240.5', worldAddr: '169.254.240.6' });
  assert.deepEqual(freeSlash30(['169.254.240.0/24', '169.254.241.0/24', '169.254.242.0/24', '169.254.243.0/24', '169.254.244.2/32']), {
    hostAddr: '169.254.244.5',
    worldAddr: '169.254.244.6',
  });
  // Broad routes are what every machine has (zeroconf 169.254.0.0/16, default): the /30 is more specific.
  assert.deepEqual(freeSlash30(['169.254.0.0/16', '0.0.0.0/0', '169.254.240.0/20']), { hostAddr: '169.254.240.1', worldAddr: '169.254.240.2' });
  const all = Array.from({ length: 16 }, (_, i) => `169.254.${240 + i}.0/24`);
  assert.equal(freeSlash30(all), undefined, 'the whole pool taken');
  assert.match(uplinkIf('bridge-4ns@alice'), /^nlu-[0-9a-f]{8}$/);
  assert.notEqual(uplinkIf('bridge-4ns@alice'), uplinkIf('bridge-4ns@bob'));
});
