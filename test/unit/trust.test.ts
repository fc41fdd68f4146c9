// What a plain `up` may take as verified instead of reading it, and the lab cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeLab, encodeLab, labKey } from '../../src/load/cache.js';
import { loadLabFile } from '../../src/load/lab.js';
import { desiredState } from '../../src/model/desired.js';
import { HOST, type ObservedNs } from '../../src/model/types.js';
import { hostEndsPresent, nsFingerprint, recordVerified, forgetVerified, trustable, verifiedAsRecorded, verifiedState } from '../../src/state/trust.js';
import { diff } from '../../src/plan/diff.js';
import { applied, labOf, twoOnBridge } from '../lib/fixtures.js';
import { newJournal } from '../../src/state/journal.js';
import { ROOT } from '../../src/paths.js';

const LABS = join(ROOT, 'labs');

test('lab cache: every lab in labs/ comes back from its encoding exactly as loaded', () => {
  for (const f of readdirSync(LABS).filter((n) => n.endsWith('.yaml'))) {
    const lab = loadLabFile(join(LABS, f));
    const back = decodeLab(encodeLab(lab));
    assert.deepEqual(back, lab, f);
    assert.deepEqual(desiredState(back), desiredState(lab), f);
  }
});

test('lab cache: the key changes with the bytes and the path, not with nothing', () => {
  const bytes = readFileSync(join(LABS, 'bridge-4ns.yaml'));
  const k = labKey('labs/bridge-4ns.yaml', bytes);
  assert.equal(labKey('labs/bridge-4ns.yaml', Buffer.from(bytes)), k);
  assert.notEqual(labKey('labs/bridge-4ns.yaml', Buffer.concat([bytes, Buffer.from('\n')])), k);
  assert.notEqual(labKey('/elsewhere/bridge-4ns.yaml', bytes), k);
});

const LAB = (addr: string) => twoOnBridge('t1', addr);

test('fingerprint: same file, same print; an address changed in one node changes that node only', () => {
  const a = labOf(LAB('192.168.20.1/24')).desired;
  const b = labOf(LAB('192.168.20.1/24')).desired;
  const c = labOf(LAB('192.168.20.9/24')).desired;
  assert.equal(nsFingerprint(a.ns.get('ns1')!), nsFingerprint(b.ns.get('ns1')!));
  assert.notEqual(nsFingerprint(a.ns.get('ns1')!), nsFingerprint(c.ns.get('ns1')!));
  assert.equal(nsFingerprint(a.ns.get('ns2')!), nsFingerprint(c.ns.get('ns2')!));
});

test('trust: nothing without a settled journal, an entered namespace or a changed file part is read', () => {
  const desired = labOf(LAB('192.168.20.1/24')).desired;
  const netns = new Set(['ns1', 'ns2']);
  const j = newJournal('t1', '/x.yaml');
  const inodes = new Map([
    ['ns1', 1],
    ['ns2', 2],
  ]);
  const inode = (n: string) => inodes.get(n);
  const trusted = (entered: string[] = [], js = j) => [...trustable(desired, js, netns, new Set(entered), inode).keys()];
  assert.deepEqual(trusted([], undefined), [], 'no journal');
  j.verified = { ns1: { fp: nsFingerprint(desired.ns.get('ns1')!), ino: 1 }, ns2: { fp: 'other', ino: 2 } };
  assert.deepEqual(trusted(), [], "status 'applying': an up did not finish");
  j.status = 'up';
  // ns1's print and identity match; ns2's print differs.
  assert.deepEqual(trusted(), ['ns1']);
  assert.deepEqual(trusted(['ns1']), [], 'entered since');
  inodes.set('ns1', 7);
  assert.deepEqual(trusted(), [], 're-created: another inode');
  inodes.set('ns1', 1);
  assert.deepEqual([...trustable(desired, j, new Set(['ns2']), new Set(), inode).keys()], [], 'gone');
  forgetVerified(j, ['ns1']);
  assert.deepEqual(Object.keys(j.verified), ['ns2']);
  // Recording records each namespace's print and identity, and drops what the file no longer has.
  j.verified.gone = { fp: 'x', ino: 3 };
  recordVerified(j, desired, desired.namespaces, inode);
  assert.deepEqual(j.verified, { ns1: { fp: nsFingerprint(desired.ns.get('ns1')!), ino: 1 }, ns2: { fp: nsFingerprint(desired.ns.get('ns2')!), ino: 2 } });
  // A namespace that does not exist has no identity: nothing is recorded for it.
  recordVerified(j, desired, desired.namespaces, (n) => (n === 'ns1' ? 1 : undefined));
  assert.deepEqual(Object.keys(j.verified), ['ns1']);
});

test('trust: a namespace whose host-side veth end is missing, or not a veth, is read', () => {
  const desired = labOf(LAB('192.168.20.1/24')).desired;
  const want = desired.ns.get('ns1')!;
  const host = (kind?: 'veth' | 'bridge'): ObservedNs => ({
    links: new Map(kind ? [['tap1_peer', { name: 'tap1_peer', kind, up: true, addresses: [] }]] : []),
    routes: [],
    rules: [],
    sysctls: new Map(),
    iptables: new Map(),
  });
  assert.equal(hostEndsPresent(want, host('veth')), true);
  assert.equal(hostEndsPresent(want, host()), false);
  assert.equal(hostEndsPresent(want, host('bridge')), false);
});

test('trust: a namespace taken as verified plans nothing, for every lab in labs/', () => {
  for (const f of readdirSync(LABS).filter((n) => n.endsWith('.yaml'))) {
    const desired = desiredState(loadLabFile(join(LABS, f)));
    const { observed, journal } = applied(desired);
    for (const ns of desired.namespaces) observed.ns.set(ns, verifiedState(desired, journal, ns)!);
    const plan = diff(desired, observed, journal);
    assert.deepEqual(
      plan.actions.filter((a) => a.ns !== HOST && a.kind !== 'process.start'),
      [],
      f,
    );
  }
});

test('verifiedAsRecorded: only when every namespace of the file is recorded with its print and identity', () => {
  const desired = labOf(LAB('192.168.20.1/24')).desired;
  const j = newJournal('t1', '/x.yaml');
  const inode = (n: string) => ({ ns1: 1, ns2: 2 })[n];
  assert.equal(verifiedAsRecorded(j, desired, inode), false, 'nothing recorded');
  j.verified = { ns1: { fp: nsFingerprint(desired.ns.get('ns1')!), ino: 1 }, ns2: { fp: nsFingerprint(desired.ns.get('ns2')!), ino: 2 } };
  assert.equal(verifiedAsRecorded(j, desired, inode), true);
  assert.equal(
    verifiedAsRecorded(j, desired, (n) => (n === 'ns1' ? 1 : 9)),
    false,
    'ns2 re-created',
  );
  assert.equal(
    verifiedAsRecorded(j, desired, (n) => (n === 'ns1' ? 1 : undefined)),
    false,
    'ns2 gone',
  );
});
