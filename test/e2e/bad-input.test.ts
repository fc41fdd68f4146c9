// Bad input and damaged state end in a clear error, never a stack trace or a hang: lab files that
// are a FIFO or a device, a reader that goes away (EPIPE), damaged journals (every other lab keeps
// working), an exec check that outlives its timeout, an empty lock file, an unusable state
// directory, root without CAP_NET_ADMIN/CAP_SYS_ADMIN. What builds labs runs in a World.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, LABS, ROOT, isRoot, netnsList, stateDir, tryRun, uid } from '../lib/host.js';
import { World } from '../lib/world.js';

const STACK = /^\s+at .+:\d+:\d+\)?$/m;
const clean = (r: { stdout: string; stderr: string }) => {
  assert.doesNotMatch(r.stdout + r.stderr, STACK, 'no stack trace');
  assert.doesNotMatch(r.stdout + r.stderr, /internal error/);
};

function run(args: string[], env: Record<string, string>, timeout = 30_000) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout, maxBuffer: 256 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: Date.now() - t0, timedOut: r.error !== undefined };
}

const lab = (name: string, body = '') => `name: ${name}\nnodes:\n  ${name}a: {}\n${body}`;

describe('bad input and damaged state, as root', { skip: !isRoot && 'needs root' }, () => {
  const state = stateDir();
  let w: World;
  before(() => {
    w = World.create();
  });
  after(() => {
    w?.destroy();
    state.cleanup();
  });
  const env = () => ({ NETLAB_STATE_DIR: state.dir });

  test('a FIFO, /dev/zero and a file over 16 MiB as the lab file: exit 2 at once, saying what it is', () => {
    const fifo = join(state.dir, 'lab.yaml');
    assert.equal(tryRun('mkfifo', [fifo]).code, 0);
    const big = join(state.dir, 'big.yaml');
    assert.equal(tryRun('truncate', ['-s', '17M', big]).code, 0);
    for (const [file, what] of [
      [fifo, /it is a FIFO/],
      ['/dev/zero', /it is a character device/],
      [big, /larger than 16 MiB/],
    ] as const) {
      for (const cmd of ['validate', 'up', 'plan']) {
        const r = run([cmd, file], env(), 20_000);
        assert.ok(!r.timedOut, `${cmd} ${file} hung`);
        assert.equal(r.code, 2, `${cmd} ${file}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`^${file}:1:1: error: `));
        assert.match(r.stderr, what);
        clean(r);
      }
    }
  });

  test('plan FILE | head -1 and generate | head -1: the first line, exit 0, nothing on stderr', () => {
    for (const cmd of [`${process.execPath} ${CLI} plan ${join(LABS, 'bridge-4ns.yaml')}`, `${process.execPath} ${CLI} generate single 4000`]) {
      const r = spawnSync('bash', ['-c', `${cmd} 2>${state.dir}/err | head -c 20 >/dev/null; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8', env: { ...process.env, ...env() }, timeout: 60_000 });
      const stderr = readFileSync(`${state.dir}/err`, 'utf8');
      assert.equal(r.stdout.trim(), '0', `${cmd}: exit ${r.stdout.trim()}: ${stderr}`);
      assert.equal(stderr, '', `${cmd}: quiet`);
    }
  });

  test('a NUL or control character in a name, from the file or the command line, is printed escaped', () => {
    const v = run(['validate', join(ROOT, 'test/fixtures/invalid/name-nul.yaml')], env());
    assert.equal(v.code, 2);
    assert.ok(v.stderr.includes("invalid node name 'ns\\x00one'"), v.stderr);
    for (const args of [
      ['down', 'x\x1b[31mred'],
      ['status', 'x\x01y'],
      ['logs', 'x\x1by'],
    ]) {
      const r = run(args, env());
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^error: not a lab name: x\\x(1b|01)/);
      assert.doesNotMatch(r.stdout + r.stderr, /[\x00-\x08\x0b-\x1f]/, 'no raw control character');
    }
    assert.equal(existsSync(join(state.dir, 'locks')), false, 'no lock taken for a name that cannot be a lab');
  });

  test('validate of a file with 50,000 problems: fast, the first 100 printed and how many more', () => {
    const file = join(state.dir, 'many.yaml');
    writeFileSync(file, `name: many\nnodes:\n${Array.from({ length: 50_000 }, (_, i) => `  n${i}: {mtu: 1}`).join('\n')}\n`);
    const r = run(['validate', file], env(), 60_000);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.split('\n').filter((l) => / error: /.test(l)).length, 100);
    assert.match(r.stderr, /\.\.\. and 49900 more problems \(netlab validate --json FILE lists every one\)\n50000 problems found/);
    clean(r);
    const j = run(['validate', '--json', file], env(), 60_000);
    assert.equal((JSON.parse(j.stdout) as { problems: unknown[] }).problems.length, 50_000);
    // Generous: 2 cores shared by many sessions; it took minutes when it was quadratic.
    assert.ok(r.ms < 30_000, `${r.ms} ms`);
  });

  test('NETLAB_STATE_DIR a file, or on a read-only mount: one error naming it, exit 1, nothing created', () => {
    const name = uid();
    const file = join(w.dir, `${name}.yaml`);
    writeFileSync(file, lab(name));
    const notDir = join(w.dir, 'state-file');
    writeFileSync(notDir, '');
    const ro = join(w.dir, 'state-ro');
    mkdirSync(ro);
    assert.equal(w.sh(`mount -t tmpfs -o ro netlab-ro ${ro}`).code, 0);
    // A file cannot even be read as a directory: gc and status refuse too (gc must not take
    // every lab for gone); a read-only one is refused by what writes.
    for (const [dir, cmds] of [
      [notDir, [['up', file], ['down', name], ['down', '--all'], ['gc'], ['status']]],
      [
        ro,
        [
          ['up', file],
          ['down', name],
        ],
      ],
    ] as const) {
      for (const args of cmds) {
        const r = w.netlab([...args], { NETLAB_STATE_DIR: dir });
        assert.equal(r.code, 1, `${args.join(' ')} with ${dir}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, new RegExp(`^error: the state directory NETLAB_STATE_DIR=${dir} is unusable: `));
        clean(r);
      }
      assert.equal(w.sh('ls /run/netns').stdout.trim(), '', 'no namespace made');
    }
  });

  test('damaged journals: named with the fix; status, gc, down --all and up of the other labs work', () => {
    const good = uid();
    const other = uid();
    const goodFile = join(w.dir, `${good}.yaml`);
    const otherFile = join(w.dir, `${other}.yaml`);
    writeFileSync(goodFile, lab(good));
    writeFileSync(otherFile, lab(other));
    assert.equal(w.netlab(['up', goodFile]).code, 0);
    const labs = join(w.stateDir, 'labs');
    const truncated = join(labs, 'broken1.json');
    const shaped = join(labs, 'broken2.json');
    writeFileSync(truncated, readFileSync(join(labs, `${good}.json`), 'utf8').slice(0, 40));
    writeFileSync(shaped, JSON.stringify({ version: 1, lab: 'broken2', file: '/x.yaml', namespaces: 'ns1' }));

    const st = w.netlab(['status']);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, new RegExp(`^${good} +up`, 'm'));
    assert.match(st.stderr, new RegExp(`journal of lab broken1 is damaged: ${truncated}: not valid JSON`));
    assert.match(st.stderr, new RegExp(`journal of lab broken2 is damaged: ${shaped}: 'namespaces' is not a list`));
    assert.match(st.stderr, /netlab gc broken1/);
    clean(st);
    const js = JSON.parse(w.netlab(['status', '--json']).stdout) as { labs: { lab: string }[]; damaged: { lab: string; journal: string }[] };
    assert.deepEqual(
      js.labs.map((l) => l.lab),
      [good],
    );
    assert.deepEqual(js.damaged.map((d) => d.journal).sort(), [truncated, shaped]);

    const up = w.netlab(['up', otherFile]);
    assert.equal(up.code, 0, `up of another lab: ${up.stderr}`);
    const own = w.netlab(['down', 'broken1']);
    assert.equal(own.code, 1);
    assert.match(own.stderr, new RegExp(`^error: the journal of lab broken1 is damaged: ${truncated}`));
    assert.match(own.stderr, /hint: check the file, then either run 'netlab gc broken1'/);
    clean(own);
    const brokenFile = join(w.dir, 'broken1.yaml');
    writeFileSync(brokenFile, 'name: broken1\nnodes:\n  broken1a: {}\n');
    const ownUp = w.netlab(['up', brokenFile]);
    assert.equal(ownUp.code, 1);
    assert.match(ownUp.stderr, new RegExp(`^error: the journal of lab broken1 is damaged: ${truncated}`));
    assert.equal(w.sh('ls /run/netns').stdout.includes('broken1a'), false, 'up of the damaged lab changed nothing');
    clean(ownUp);

    const gc = w.netlab(['gc']);
    assert.equal(gc.code, 0, gc.stderr);
    assert.match(gc.stderr, /left alone: the journal of lab broken1 is damaged/);
    assert.ok(existsSync(truncated) && existsSync(shaped), 'plain gc leaves damaged journals alone');
    clean(gc);

    const all = w.netlab(['down', '--all']);
    assert.equal(all.code, 3, 'the damaged labs are not down');
    assert.match(all.stdout, new RegExp(`lab ${good} is down`));
    assert.match(all.stdout, new RegExp(`lab ${other} is down`));
    assert.match(all.stderr, /journal of lab broken1 is damaged/);
    assert.match(all.stderr, /journal of lab broken2 is damaged/);
    clean(all);

    const named = w.netlab(['gc', 'broken1', 'broken2']);
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stdout, /damaged journal of lab broken1/);
    assert.deepEqual(readdirSync(labs), [], 'gc LAB removed the damaged files');
    assert.equal(w.sh('ls /run/netns').stdout.trim(), '');
  });

  test('an exec check written as a string ends at its timeout, with its whole process group', () => {
    const name = uid();
    const secs = 60_000 + Math.floor(Math.random() * 9999);
    const file = join(w.dir, `${name}.yaml`);
    writeFileSync(file, lab(name, `checks:\n  - exec: {node: ${name}a, command: "sleep ${secs}", timeout: 1s}\n`));
    const t0 = Date.now();
    const r = w.netlab(['up', file]);
    const ms = Date.now() - t0;
    try {
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stdout + r.stderr, /timed out after 1000 ms/);
      assert.ok(ms < 20_000, `up took ${ms} ms`);
      const sleeps = readdirSync('/proc').filter(
        (p) =>
          /^\d+$/.test(p) &&
          (() => {
            try {
              return readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\0${secs}\0`;
            } catch {
              return false;
            }
          })(),
      );
      assert.deepEqual(sleeps, [], 'no sleep left running');
    } finally {
      w.netlab(['down', name]);
    }
  });

  test('an empty lock file is a lock being taken: up waits for nobody and refuses (exit 5), nothing made', () => {
    const name = uid();
    const file = join(w.dir, `${name}.yaml`);
    writeFileSync(file, lab(name));
    mkdirSync(join(w.stateDir, 'locks'), { recursive: true });
    const lock = join(w.stateDir, 'locks', `${name}.lock`);
    writeFileSync(lock, '');
    const r = w.netlab(['up', file]);
    assert.equal(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stderr, /being locked by another netlab right now/);
    assert.ok(existsSync(lock), 'not removed as stale');
    assert.equal(w.sh(`ls /run/netns`).stdout.includes(`${name}a`), false);
    clean(r);
  });

  const setpriv = tryRun('setpriv', ['--version']).code === 0;
  test('root without CAP_NET_ADMIN and CAP_SYS_ADMIN: up exits 6 before changing anything; doctor says not ready', { skip: !setpriv && 'setpriv (util-linux) not installed' }, () => {
    const name = uid();
    const file = join(state.dir, `${name}.yaml`);
    writeFileSync(file, lab(name));
    const before = netnsList();
    const drop = ['setpriv', '--inh-caps=-all', '--bounding-set=-net_admin,-sys_admin', process.execPath, CLI];
    const run6 = (args: string[]) => {
      const r = spawnSync(drop[0]!, [...drop.slice(1), ...args], { encoding: 'utf8', env: { ...process.env, ...env() }, timeout: 60_000 });
      return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    };
    for (const args of [['up', file], ['down', name], ['gc'], ['status']]) {
      const r = run6(args);
      assert.equal(r.code, 6, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /this root process lacks CAP_NET_ADMIN and CAP_SYS_ADMIN/);
      assert.match(r.stderr, /nothing was changed/);
      clean(r);
    }
    assert.deepEqual(netnsList(), before);
    assert.equal(existsSync(join(state.dir, 'labs')), false, 'no journal');
    const d = run6(['doctor', '--json']);
    assert.equal(d.code, 6);
    const j = JSON.parse(d.stdout) as { ok: boolean; privileges: { ok: boolean; root: boolean }; missingRequired: string[] };
    assert.equal(j.ok, false);
    assert.equal(j.privileges.root, true);
    assert.equal(j.privileges.ok, false);
    assert.deepEqual(j.missingRequired, ['privileges']);
    const t = run6(['doctor']);
    assert.equal(t.code, 6);
    assert.match(t.stdout, /MISSING +root \(uid 0\), without CAP_NET_ADMIN and CAP_SYS_ADMIN/);
    assert.match(t.stdout, /verdict: NOT ready \(exit 6\): required and missing: privileges/);
    assert.doesNotMatch(t.stdout, /sudo/, 'root is told what it lacks, not to use sudo');
  });
});
