// netlab generate: every topology writes a lab that validates, with the expected shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, GenerateError, schemaRef } from '../../src/generate.js';
import { loadLab } from '../../src/load/lab.js';
import { join } from 'node:path';
import { ROOT } from '../../src/paths.js';

const load = (text: string) => loadLab(text, 'gen.yaml');

test('single N: N hosts on one bridge', () => {
  const lab = load(generate({ topology: 'single', n: 300, prefix: 'x' }));
  assert.equal(lab.nodes.size, 300);
  assert.deepEqual([...lab.bridges.keys()], ['xbr']);
  assert.equal(lab.links.length, 300);
  assert.equal(lab.ipv6LinkLocal, false);
  assert.equal(lab.links[299]!.ends[0].addresses[0]!.cidr, '10.0.1.44/16');
});

test('linear N: every router has a route to every link it is not on', () => {
  const lab = load(generate({ topology: 'linear', n: 5 }));
  assert.equal(lab.links.length, 4);
  for (const n of lab.nodes.values()) assert.equal(n.routes.length, 4 - (n.name === 'r1' || n.name === 'r5' ? 1 : 2), n.name);
  assert.equal(lab.nodes.get('r1')!.routes.find((r) => r.to === '10.100.3.0/24')!.via, '10.100.0.2');
  assert.equal(lab.nodes.get('r5')!.routes.find((r) => r.to === '10.100.0.0/24')!.via, '10.100.3.1');
});

test('ring N closes the loop; tree D,F has F^D hosts under bridges', () => {
  assert.equal(load(generate({ topology: 'ring', n: 6 })).links.length, 6);
  const tree = load(generate({ topology: 'tree', n: 0, depth: 3, fanout: 2 }));
  assert.equal(tree.nodes.size, 8);
  assert.equal(tree.bridges.size, 7);
  assert.equal(tree.links.length, 8 + 6);
});

test('out-of-range sizes are refused with a message', () => {
  assert.throws(() => generate({ topology: 'linear', n: 1 }), GenerateError);
  assert.throws(() => generate({ topology: 'tree', n: 0, depth: 13, fanout: 2 }), /at most 4096 hosts/);
});

test('every generated lab carries checks between its far ends, so up proves it works', () => {
  const far = (t: Parameters<typeof generate>[0]) => load(generate(t)).checks.map((c) => `${c.kind} ${c.label}`);
  assert.deepEqual(far({ topology: 'single', n: 50, prefix: 'x' }), ['ping ping xh1 -> 10.0.0.50', 'ping ping xh50 -> 10.0.0.1']);
  assert.deepEqual(far({ topology: 'linear', n: 5 }), ['ping ping r1 -> 10.100.3.2', 'ping ping r5 -> 10.100.0.1']);
  assert.deepEqual(far({ topology: 'ring', n: 5 }), ['ping ping r1 -> 10.100.0.2', 'ping ping r5 -> 10.100.4.1']);
  assert.deepEqual(far({ topology: 'tree', n: 0, depth: 2, fanout: 2 }), ['ping ping h1 -> 10.0.0.4', 'ping ping h4 -> 10.0.0.1']);
  assert.deepEqual(far({ topology: 'single', n: 1 }), []);
});

test('the schema modeline is relative to where the file is written, never a machine path', () => {
  assert.equal(schemaRef('/srv/labs/x.yaml', '/opt/netlab/schemas/lab.schema.json'), '../../opt/netlab/schemas/lab.schema.json');
  assert.equal(schemaRef('/opt/netlab/labs/x.yaml', '/opt/netlab/schemas/lab.schema.json'), '../schemas/lab.schema.json');
  assert.equal(schemaRef('/opt/netlab/x.yaml', '/opt/netlab/schemas/lab.schema.json'), './schemas/lab.schema.json');
  const text = generate({ topology: 'single', n: 2, output: join(ROOT, 'labs', 'gen.yaml') });
  assert.match(text.split('\n')[0]!, /^# yaml-language-server: \$schema=\.\.\/schemas\/lab\.schema\.json$/);
});
