#!/usr/bin/env node
// The whole test suite: unit tests, then end-to-end tests on the real kernel (root only), and a
// check that the host's root namespace is exactly as it was before the run.
// Usage: npm test            (everything; e2e needs root and the tools .ci/run installs)
//        NETLAB_UNIT_ONLY=1 npm test   (only the pure unit tests; says so loudly)
//        node test/run.mjs full-kernel   (only the test files whose name contains one of the words;
//                                         the Vagrant VM runs this one with NETLAB_REQUIRE_FULL_KERNEL=1)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { compare, snapshot } from '../dist/test/lib/snapshot.js';

const files = (dir) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.test.js'))
        .map((f) => `${dir}/${f}`)
    : [];
const only = process.argv.slice(2);
const pick = (list) => (only.length ? list.filter((f) => only.some((w) => f.includes(w))) : list);
const unit = pick(files('dist/test/unit'));
const e2e = pick(files('dist/test/e2e'));
if (only.length) console.log(`# only the test files matching ${only.join(', ')}: ${[...unit, ...e2e].join(' ') || 'NONE'}`);
if (only.length && !unit.length && !e2e.length) process.exit(1);
const isRoot = process.getuid?.() === 0;
let runE2e = true;
if (process.env.NETLAB_UNIT_ONLY === '1') {
  console.log('# NETLAB_UNIT_ONLY=1: end-to-end tests NOT run (they need root and real namespaces)');
  runE2e = false;
} else if (!isRoot) {
  console.log('# end-to-end tests need root (network namespaces): run as root, or NETLAB_UNIT_ONLY=1 for unit tests only');
  process.exit(1);
}

const before = runE2e ? snapshot() : undefined;
const t0 = Date.now();
const tap = `/tmp/netlab-tests-${process.pid}.tap`;
const r = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...unit, ...(runE2e ? e2e : [])],
  { stdio: 'inherit' },
);
let code = r.status ?? 1;
const counts = Object.fromEntries(
  ['pass', 'fail', 'skipped', 'cancelled'].map((k) => [k, Number((new RegExp(`^# ${k} (\\d+)`, 'm').exec(existsSync(tap) ? readFileSync(tap, 'utf8') : '') ?? [])[1] ?? 0)]),
);
rmSync(tap, { force: true });
console.log(`# tests took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
if (before) {
  const diffs = compare(before, snapshot());
  if (diffs.length) {
    console.log(`# FAIL: the host's root namespace changed during the tests:\n${diffs.join('\n')}`);
    code = code || 1;
    counts.fail++;
  } else console.log('# host root namespace: identical before and after the tests (links, addresses, routes, rules, iptables, nft, sysctls, netns)');
}
console.log(`${counts.pass} passed, ${counts.fail + counts.cancelled} failed, ${counts.skipped} skipped`);
process.exit(code);
