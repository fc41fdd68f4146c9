// Ownership: the pure judgements (mark and identity), the receipt of the namespaces batch, and
// how plan, apply and down use them.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeLink, judgeNs } from '../../src/model/ownership.js';
import { parseReceipt, takeReceipt } from '../../src/apply/receipt.js';
import { ApplyError } from '../../src/apply/apply.js';
import { applyAll } from '../lib/apply.js';
import { diff } from '../../src/plan/diff.js';
import { render } from '../../src/render/render.js';
import { ScriptedRunner } from '../lib/scripted-runner.js';
import { newJournal, readJournal } from '../../src/state/journal.js';
import { HOST } from '../../src/model/types.js';
import { applied, emptyObserved, labOf, twoOnBridge } from '../lib/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'netlab-unit-own-'));
process.env.NETLAB_STATE_DIR = dir;
after(() => rmSync(dir, { recursive: true, force: true }));

const waitFor = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};
const id = (ino: number, mtime = '100.000000001') => ({ ino, mtime });

test("a namespace: a recorded identity must be the same (inode and mtime); without one, only the lab's mark proves it", () => {
  const read = (mark?: string) => ({ markRead: true, ...(mark ? { mark } : {}) });
  assert.deepEqual(judgeNs('a', id(5), { id: id(5), markRead: false }), { ours: true }, 'identity as recorded: no read needed');
  assert.deepEqual(judgeNs('a', id(5), { id: id(5), ...read() }), { ours: true }, 'made by the lab, not marked yet (an up killed before configure)');
  assert.deepEqual(judgeNs('a', id(5), { id: id(5, '200.0'), ...read() }), { ours: false, why: 'it was re-created since this lab made it (unmarked)' }, 'inode reused by a namespace made by hand');
  assert.deepEqual(judgeNs('a', id(5), { id: id(6), ...read('netlab:b') }), { ours: false, why: 'it was re-created since this lab made it (marked netlab:b)' });
  assert.deepEqual(
    judgeNs('a', id(5), { id: id(6), ...read('netlab:a') }),
    { ours: false, why: 'it was re-created since this lab made it (marked netlab:a)' },
    'a lab of the same name elsewhere (another state directory)',
  );
  assert.deepEqual(judgeNs('a', id(5), { id: id(5), ...read('netlab:b') }), { ours: false, why: 'marked netlab:b' });
  assert.deepEqual(judgeNs('a', undefined, { id: id(5), ...read('netlab:a') }), { ours: true }, 'an old journal, or a lost one: the mark proves it');
  assert.deepEqual(judgeNs('a', undefined, { id: id(5), ...read() }), { ours: false, why: 'unmarked' }, 'a claim proves nothing');
  assert.deepEqual(judgeNs('a', undefined, { id: id(5), ...read('docker') }), { ours: false, why: "alias 'docker'" });
  assert.deepEqual(judgeNs('a', undefined, { id: id(5), markRead: false }), { ours: false, why: 'its mark was not read' });
});

test("a host link: the lab's mark, and the ifindex recorded when one was", () => {
  assert.deepEqual(judgeLink('a', 7, { alias: 'netlab:a', ifindex: 7 }), { ours: true });
  assert.deepEqual(judgeLink('a', undefined, { alias: 'netlab:a', ifindex: 9 }), { ours: true }, 'old journal: the mark');
  assert.deepEqual(judgeLink('a', 7, { ifindex: 7 }), { ours: false, why: 'unmarked' });
  assert.deepEqual(judgeLink('a', 7, { alias: 'netlab:b', ifindex: 7 }), { ours: false, why: 'marked netlab:b' });
  assert.equal(judgeLink('a', 7, { alias: 'netlab:a', ifindex: 8 }).ours, false, 'another run of a lab of this name');
});

test("receipt: the lines before the failing one created their namespaces; the failing one and the rest are not the lab's", () => {
  const ids = 'n1 11 1.000000001\nn2 12 1.000000002\nn3 13 1.000000003\n';
  const ok = parseReceipt(['n1', 'n2', 'n3'], 0, '', ids);
  assert.deepEqual([...ok.created.keys()], ['n1', 'n2', 'n3']);
  assert.deepEqual(ok.created.get('n2'), id(12, '1.000000002'));
  const lost = parseReceipt(['n1', 'n2', 'n3'], 1, 'Cannot create namespace file "/run/netns/n2": File exists\nCommand failed -:2\n', ids);
  assert.deepEqual([...lost.created.keys()], ['n1']);
  assert.deepEqual(lost.failed, ['n2', 'n3'], "n2 is the winner's; n3 never ran");
  assert.deepEqual(parseReceipt(['n1'], 127, 'sh: ip: not found', '').failed, ['n1']);
});

test('takeReceipt: a receipt left by a killed up is taken into the journal; none, nothing changes', async () => {
  const j = newJournal('rc', '/x.yaml');
  j.namespaces = ['n1', 'n2'];
  assert.equal(await takeReceipt(j, 0), false);
  const d = join(dir, 'created', 'rc');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'names'), 'n1\nn2\n');
  writeFileSync(join(d, 'err'), 'File exists\nCommand failed -:2\n');
  writeFileSync(join(d, 'ids'), 'n1 11 1.5\nn2 12 1.5\n');
  assert.equal(await takeReceipt(j, 0), false, 'the batch has not finished (no status yet)');
  writeFileSync(join(d, 'rc'), '1\n');
  assert.equal(await takeReceipt(j, 0), true);
  assert.deepEqual(j.namespaces, ['n1']);
  assert.deepEqual(j.ids, { ns: { n1: id(11, '1.5') } });
  assert.equal(await takeReceipt(j, 0), false, 'taken once');
});

test('takeReceipt waits for a batch whose shell still runs (its netlab was killed a moment ago)', async () => {
  const j = newJournal('rw', '/x.yaml');
  j.namespaces = ['n1'];
  const d = join(dir, 'created', 'rw');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'names'), 'n1\n');
  writeFileSync(join(d, 'ids'), 'n1 11 1.5\n');
  const sh = spawn('sh', ['-c', 'echo $$ >"$1/pid"; sleep 0.3; echo 0 >"$1/rc"', 'netlab-netns-add', d]);
  await waitFor(() => existsSync(join(d, 'pid')));
  assert.equal(await takeReceipt(j), true);
  assert.deepEqual(j.ids, { ns: { n1: id(11, '1.5') } });
  sh.kill();
});

test('apply: a namespace whose netns add lost the race leaves no claim; those made before it are recorded with their identity and rolled back', async () => {
  const { desired } = labOf(twoOnBridge('ra'));
  const plan = diff(desired, emptyObserved(), undefined);
  // The wrapped batch, as the shell would leave its receipt: ns1 made, ns2 existed already.
  const runner = new ScriptedRunner().on('sh -c', (argv) => {
    const d = argv[4]!;
    writeFileSync(join(d, 'names'), `${argv.slice(5).join('\n')}\n`);
    writeFileSync(join(d, 'ids'), 'ns1 21 2.5\nns2 22 2.5\n');
    writeFileSync(join(d, 'rc'), '1\n');
    return { exitCode: 1, stderr: 'Cannot create namespace file "/run/netns/ns2": File exists\nCommand failed -:2\n' };
  });
  const j = newJournal('ra', '/x.yaml');
  await assert.rejects(applyAll(runner, render(plan.actions), desired, j), (e: unknown) => e instanceof ApplyError && e.object === 'node ns2');
  const final = readJournal('ra')!;
  assert.deepEqual(final.namespaces, [], "ns1 was rolled back, ns2 was never the lab's");
  assert.deepEqual(final.ids?.ns ?? {}, {});
  assert.ok(
    runner.calls.some((c) => c.input === 'netns del ns1\n'),
    'the rollback deleted only the namespace this lab made',
  );
  assert.ok(!runner.calls.some((c) => c.input?.includes('netns del ns2')));
});

test("plan: a journal's claim does not make an object the lab's; a recorded identity that no longer holds is a conflict, and nothing is deleted", () => {
  const { desired } = labOf(twoOnBridge('pj'));
  const { observed, journal } = applied(desired);
  observed.ids = new Map([
    ['ns1', id(31)],
    ['ns2', id(32)],
  ]);
  journal.ids = { ns: { ns1: id(31), ns2: id(32) }, links: { br1: 40 } };
  for (const [name, l] of observed.ns.get(HOST)!.links) l.ifindex = name === 'br1' ? 40 : 50;
  assert.deepEqual(diff(desired, observed, journal).conflicts, [], "as recorded: the lab's");
  // ns2 re-made by hand (same inode number, another mtime, unmarked); br1 re-made by hand.
  observed.ids.set('ns2', id(32, '999.0'));
  delete observed.ns.get('ns2')!.mark;
  const br = observed.ns.get(HOST)!.links.get('br1')!;
  delete br.alias;
  br.ifindex = 41;
  const p = diff(desired, observed, journal);
  assert.deepEqual(
    p.conflicts.map((c) => c.message),
    ["namespace 'ns2' is not the one lab 'pj' made: it was re-created since this lab made it (unmarked)", "host interface 'br1' already exists and was not made by lab 'pj' (unmarked)"],
  );
  assert.match(p.conflicts[0]!.hint, /remove it \(ip netns del ns2\) if nothing needs it, or rename the node/);
  assert.deepEqual(p.ownership.ns.get('ns1'), { ours: true });
  // A node taken out of the file whose namespace is no longer the lab's is not deleted.
  const one = labOf(
    twoOnBridge('pj')
      .replace(/ {2}- endpoints: \[ns2[\s\S]*$/, '')
      .replace('  ns2:\n', ''),
  );
  assert.ok(!diff(one.desired, observed, journal).actions.some((a) => a.kind === 'netns.del'), "ns2 is claimed but not the lab's: not deleted");
});

test("plan: an old journal (no identities): objects carrying the lab's mark are its own, the others are not", () => {
  const { desired } = labOf(twoOnBridge('oj'));
  const { observed, journal } = applied(desired);
  assert.deepEqual(diff(desired, observed, journal).conflicts, []);
  delete observed.ns.get('ns1')!.mark;
  assert.deepEqual(
    diff(desired, observed, journal).conflicts.map((c) => c.message),
    ["namespace 'ns1' already exists and was not made by lab 'oj' (unmarked)"],
  );
});
