// plan, up, check and trace take the name of a lab that is up, not only its file.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LABS, isRoot } from '../lib/host.js';
import { World } from '../lib/world.js';

describe('a lab that is up, by its name', { skip: !isRoot && 'needs root (namespaces)' }, () => {
  test('plan, up, check and trace take the name; an unknown name says which file to pass', () => {
    const w = World.create();
    try {
      const env = { CI: 'true' };
      const none = w.netlab(['plan', 'veth-pair'], env);
      assert.equal(none.code, 2, none.stderr);
      assert.match(none.stderr, /^error: no lab file 'veth-pair', and no lab named 'veth-pair' is up\n {2}hint: pass the lab file/);
      const up = w.netlab(['up', join(LABS, 'veth-pair.yaml')], env);
      assert.equal(up.code, 0, up.stderr);
      assert.equal(w.netlab(['plan', 'veth-pair', '--detailed-exitcode'], env).code, 0);
      const check = w.netlab(['check', 'veth-pair'], env);
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stdout, /checks met/);
      const again = w.netlab(['up', 'veth-pair'], env);
      assert.equal(again.code, 0, again.stderr);
      const tr = w.netlab(['trace', 'veth-pair', '--from', 'ns0', '--to', '192.168.10.2'], env);
      assert.equal(tr.code, 0, tr.stderr);
      assert.match(tr.stdout, /probe answered/);
    } finally {
      w.netlab(['down', 'veth-pair']);
      w.destroy();
    }
  });
});
