// The package as users install it: `npm pack`, then a global install of the tarball with
// --omit=dev. The bundle carries everything it runs, so the install pulls no package at all, and
// the installed `netlab` works: doctor, and a packaged lab up and down (in a private world).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, isRoot, tryRun } from '../lib/host.js';
import { World } from '../lib/world.js';

describe('the packed tarball, installed with --omit=dev', { skip: !isRoot && 'needs root (namespaces)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'netlab-pack-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('installs no dependency, and the installed netlab runs doctor and a packaged lab', () => {
    // The build is there already (npm test builds first): skip prepack's second build.
    const pack = tryRun('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir, ROOT]);
    assert.equal(pack.code, 0, pack.out);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, pack.out);
    const prefix = join(dir, 'prefix');
    const inst = tryRun('npm', ['install', '-g', '--prefix', prefix, '--omit=dev', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, tarball)]);
    assert.equal(inst.code, 0, inst.out);
    const pkg = join(prefix, 'lib', 'node_modules', 'netlab');
    assert.deepEqual(readdirSync(join(prefix, 'lib', 'node_modules')), ['netlab']);
    assert.equal(existsSync(join(pkg, 'node_modules')), false, 'no dependency was installed');
    const bin = join(prefix, 'bin', 'netlab');
    const doctor = tryRun(bin, ['doctor']);
    assert.equal(doctor.code, 0, doctor.out);
    assert.match(doctor.out, /verdict: ready/);
    const w = World.create();
    try {
      const up = w.run(bin, ['up', join(pkg, 'labs', 'veth-pair.yaml')], { env: { CI: 'true' } });
      assert.equal(up.code, 0, `${up.stdout}${up.stderr}`);
      assert.match(up.stdout, /checks met/);
      const down = w.run(bin, ['down', 'veth-pair']);
      assert.equal(down.code, 0, `${down.stdout}${down.stderr}`);
      assert.equal(w.sh('ls /run/netns').stdout.trim(), '');
    } finally {
      w.destroy();
    }
  });
});
