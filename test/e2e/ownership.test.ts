// Ownership on the real kernel, each test in a private World (its own /run/netns, host links and
// state directory): netlab changes or deletes only what it proves its own by mark and identity,
// whatever its journal claims.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, isRoot, uid, type CliResult } from '../lib/host.js';
import { World } from '../lib/world.js';

const skip = isRoot ? false : 'needs root (network namespaces)';

function inWorld(fn: (w: World) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const w = World.create();
    try {
      await fn(w);
    } finally {
      w.destroy();
    }
  };
}

const lab = (w: World, name: string, body: string) => {
  const f = join(w.dir, `${name}.yaml`);
  writeFileSync(f, `name: ${name}\n${body}`);
  return f;
};

/** netlab inside the world, not waited for (to race two of them). */
function netlabAsync(w: World, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const c = spawn('nsenter', [`--net=${join(w.dir, 'net')}`, `--mount=${join(w.dir, 'mnt')}`, '--', process.execPath, CLI, ...args], {
      env: { ...process.env, NETLAB_STATE_DIR: w.stateDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d));
    c.stderr.on('data', (d: Buffer) => (stderr += d));
    c.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const netns = (w: World) => w.sh('ls /run/netns').stdout.split('\n').filter(Boolean).sort();
const loAlias = (w: World, ns: string) => JSON.parse(w.run('ip', ['-n', ns, '-j', 'link', 'show', 'dev', 'lo']).stdout)[0].ifalias as string | undefined;
const addrs = (w: World, args: string[]) =>
  (JSON.parse(w.run('ip', ['-j', ...args]).stdout) as { addr_info: { local: string; prefixlen: number }[] }[]).flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
const out = (r: CliResult) => `${r.stdout}${r.stderr}`;

describe('ownership: never change or delete what this lab did not make', { skip }, () => {
  test(
    'a namespace removed by hand and re-made by another lab of the same node name: down of the first leaves it, says so, exits 0; the other lab still works',
    inWorld((w) => {
      const p = uid();
      const [a, b, n] = [`a-${p}`, `b-${p}`, `${p}n`];
      const fa = lab(w, a, `nodes:\n  ${n}:\n  ${p}a1:\n`);
      const fb = lab(
        w,
        b,
        `nodes:\n  ${n}:\n  ${p}b1:\nlinks:\n  - endpoints: [${n}:eth0, ${p}b1:eth0]\n    addresses: {${n}: 10.61.0.1/24, ${p}b1: 10.61.0.2/24}\nchecks:\n  - ping: {from: ${p}b1, to: 10.61.0.1}\n`,
      );
      let r = w.netlab(['up', fa]);
      assert.equal(r.code, 0, out(r));
      assert.equal(w.run('ip', ['netns', 'del', n]).code, 0);
      r = w.netlab(['up', fb]);
      assert.equal(r.code, 0, out(r));
      assert.equal(loAlias(w, n), `netlab:${b}`);

      r = w.netlab(['down', a, '--json']);
      assert.equal(r.code, 0, out(r));
      const doc = JSON.parse(r.stdout) as { labs: { removed: { namespaces: string[] }; left: { object: string; why: string }[] }[] };
      assert.deepEqual(doc.labs[0]!.removed.namespaces, [`${p}a1`]);
      assert.deepEqual(doc.labs[0]!.left, [{ object: `namespace ${n}`, why: `it was re-created since this lab made it (marked netlab:${b})` }]);
      assert.deepEqual(netns(w), [`${p}b1`, n].sort(), "lab b's namespace is still there");

      // The plain output says the same; a second down finds nothing (the journal is gone).
      r = w.netlab(['down', a]);
      assert.match(r.stdout, /is not up: nothing to remove/);
      r = w.netlab(['up', fb]);
      assert.equal(r.code, 0, out(r));
      assert.match(r.stdout, /nothing to do · 1\/1 checks met/, 'lab b is whole and works');
      r = w.netlab(['down', b]);
      assert.equal(r.code, 0, out(r));
      assert.deepEqual(netns(w), []);
    }),
  );

  test(
    'a namespace and a host bridge removed and re-made by hand (unmarked): up refuses naming both and changes nothing in them; down leaves them and says so',
    inWorld((w) => {
      const p = uid();
      const [c, n, br] = [`c-${p}`, `${p}n`, `${p}br`];
      const f = lab(w, c, `nodes:\n  ${n}:\nbridges:\n  ${br}: {addresses: 10.62.0.1/24}\nlinks:\n  - endpoints: [${n}:eth0, ${br}:${p}p]\n    addresses: {${n}: 10.62.0.2/24}\n`);
      let r = w.netlab(['up', f]);
      assert.equal(r.code, 0, out(r));
      // Removed by hand (the veth goes with the namespace), then made again by hand, with addresses.
      const hand = w.sh(
        `ip netns del ${n} && ip link del ${br} && ip netns add ${n} && ip -n ${n} addr add 10.99.0.1/32 dev lo && ip link add name ${br} type bridge && ip addr add 10.98.0.1/24 dev ${br}`,
      );
      assert.equal(hand.code, 0, hand.stderr);
      const before = { ns: addrs(w, ['-n', n, 'addr', 'show', 'dev', 'lo']), br: addrs(w, ['addr', 'show', 'dev', br]) };

      r = w.netlab(['up', f]);
      assert.equal(r.code, 3, out(r));
      assert.match(r.stderr, new RegExp(`namespace '${n}' is not the one lab '${c}' made: it was re-created since this lab made it \\(unmarked\\)`));
      assert.match(r.stderr, new RegExp(`host interface '${br}' already exists and was not made by lab '${c}' \\(unmarked\\)`));
      assert.match(r.stderr, new RegExp(`remove it \\(ip netns del ${n}\\)`));
      assert.match(r.stderr, /nothing was changed/);
      const after = { ns: addrs(w, ['-n', n, 'addr', 'show', 'dev', 'lo']), br: addrs(w, ['addr', 'show', 'dev', br]) };
      assert.deepEqual(after, before, 'addresses intact');
      assert.equal(loAlias(w, n), undefined, 'not marked');
      assert.equal(JSON.parse(w.run('ip', ['-j', 'link', 'show', 'dev', br]).stdout)[0].ifalias, undefined);

      r = w.netlab(['down', c]);
      assert.equal(r.code, 0, out(r));
      assert.match(r.stdout, new RegExp(`left alone: namespace ${n}: it was re-created since this lab made it`));
      assert.match(r.stdout, new RegExp(`left alone: host interface ${br}: unmarked; it is not this lab's`));
      assert.deepEqual(netns(w), [n]);
      assert.deepEqual(addrs(w, ['addr', 'show', 'dev', br]), before.br, 'the bridge is still there, as it was');
    }),
  );

  test(
    "two labs race for one node name and one bridge: exactly one wins; the loser keeps no claim, its retry refuses, its down leaves the winner's namespace and bridge",
    inWorld(async (w) => {
      const p = uid();
      const n = `${p}n`;
      // Each lab's own nodes come first, so the loser may have made some before it fails on n.
      // Both also want one host bridge.
      const br = `${p}br`;
      const files = ['x', 'y'].map((s) =>
        lab(
          w,
          `${s}-${p}`,
          `nodes:\n${[1, 2, 3].map((i) => `  ${p}${s}${i}:\n`).join('')}  ${n}:\nbridges:\n  ${br}: {}\nlinks:\n  - endpoints: [${n}:${s}0, ${p}${s}1:eth0]\n    addresses: {${n}: 10.63.${s === 'x' ? 1 : 2}.1/24, ${p}${s}1: 10.63.${s === 'x' ? 1 : 2}.2/24}\n  - endpoints: [${p}${s}2:eth0, ${br}:${p}${s}p]\nchecks:\n  - ping: {from: ${p}${s}1, to: 10.63.${s === 'x' ? 1 : 2}.1}\n`,
        ),
      );
      const brAlias = () => JSON.parse(w.run('ip', ['-j', 'link', 'show', 'dev', br]).stdout)[0].ifalias as string | undefined;
      const names = ['x', 'y'].map((s) => `${s}-${p}`);
      const how = new Set<string>();
      for (let round = 0; round < 4; round++) {
        const rs = await Promise.all(files.map((f) => netlabAsync(w, ['up', f])));
        const winners = rs.flatMap((r, i) => (r.code === 0 ? [i] : []));
        assert.equal(winners.length, 1, `round ${round}: exactly one wins:\n${rs.map(out).join('\n---\n')}`);
        const win = winners[0]!;
        const lose = 1 - win;
        assert.equal(rs[lose]!.code, 3, out(rs[lose]!));
        assert.match(rs[lose]!.stderr, new RegExp(`node ${n}|namespace '${n}'`), 'the loser names the node');
        const owner = `netlab:${names[win]}`;
        assert.equal(loAlias(w, n), owner);
        // A loser refused at its plan wrote no journal; one that lost at `netns add` keeps no claim on n.
        const jf = join(w.stateDir, 'labs', `${names[lose]}.json`);
        const claims = existsSync(jf) ? (JSON.parse(readFileSync(jf, 'utf8')) as { namespaces: string[]; hostLinks: string[] }) : { namespaces: [], hostLinks: [] };
        how.add(existsSync(jf) ? 'lost at netns add' : 'refused at plan');
        assert.ok(!claims.namespaces.includes(n) && !claims.hostLinks.includes(br), `round ${round}: the loser's journal claims none of the winner's: ${JSON.stringify(claims)}`);
        assert.equal(brAlias(), owner);

        // The loser retries, as its error advises: refused, naming the owner; nothing taken.
        const retry = w.netlab(['up', files[lose]!]);
        assert.equal(retry.code, 3, out(retry));
        assert.match(retry.stderr, new RegExp(`namespace '${n}' belongs to lab '${names[win]}'`));
        assert.equal(loAlias(w, n), owner);
        const d = w.netlab(['down', names[lose]!]);
        assert.equal(d.code, 0, out(d));
        assert.ok(netns(w).includes(n), "the loser's down leaves the winner's namespace");
        assert.equal(brAlias(), owner, "and the winner's bridge");
        const check = w.netlab(['up', files[win]!]);
        assert.equal(check.code, 0, out(check));
        assert.match(check.stdout, /1\/1 checks met/, 'the winner still works');
        assert.equal(w.netlab(['down', names[win]!]).code, 0);
        assert.deepEqual(netns(w), [], `round ${round}: nothing left`);
      }
      console.log(`how the losers lost: ${[...how].join(', ')}`);
    }),
  );
});
