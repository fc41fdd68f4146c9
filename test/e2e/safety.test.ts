// Teardown that never leaves or breaks anything: kill -9 during up, objects in the way, locks,
// host sysctls and iptables restored.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { hostLinks, netlab, netlabAsync, netnsList, ping, removeExact, sh, stateDir, tryRun, uid, waitFor, labFile as writeLab, leftovers } from '../lib/host.js';

const state = stateDir();
const env = { NETLAB_STATE_DIR: state.dir };

const labFile = (name: string, body: string) => writeLab(state.dir, name, body);

describe('safety on the real kernel', () => {
  after(() => state.cleanup());

  test('kill -9 at 10 points of a 50-namespace up: down leaves nothing, up converges', async () => {
    const p = uid();
    const name = `crash-${p}`;
    const file = join(state.dir, `${name}.yaml`);
    const g = netlab(['generate', 'single', '50', '--name', name, '--prefix', p, '-o', file]);
    assert.equal(g.code, 0, g.stderr);
    // Delays after the journal first appears, i.e. after the first change began.
    const delays = [0, 5, 10, 20, 30, 45, 60, 80, 110, 150];
    const journalFile = join(state.dir, 'labs', `${name}.json`);
    const seen = new Set<string>();
    try {
      for (const delay of delays) {
        const child = netlabAsync(['up', file], env);
        await waitFor(() => existsSync(journalFile) || child.exitCode !== null, 20_000, 2);
        await new Promise((r) => setTimeout(r, delay));
        child.kill('SIGKILL');
        if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
        await new Promise((r) => setTimeout(r, 100)); // let an orphaned `ip -batch` finish its input
        let status = 'no journal';
        try {
          status = (JSON.parse(readFileSync(join(state.dir, 'labs', `${name}.json`), 'utf8')) as { status: string }).status;
        } catch {}
        seen.add(status);
        const d = netlab(['down', name], env);
        assert.equal(d.code, 0, `down after kill at +${delay} ms:\n${d.stdout}${d.stderr}`);
        assert.deepEqual(leftovers(p), [], `leftovers after kill at +${delay} ms (journal: ${status}); down said:\n${d.stdout}${d.stderr}`);
      }
      assert.ok(seen.has('applying'), `no kill landed in the middle of an up (states seen: ${[...seen].join(', ')})`);
      const u = netlab(['up', file], env);
      assert.equal(u.code, 0, u.stderr);
      const kill = netlabAsync(['up', file], env);
      kill.kill('SIGKILL');
      const u2 = netlab(['up', file], env);
      assert.equal(u2.code, 0, u2.stderr);
      assert.equal(netlab(['plan', file, '--detailed-exitcode'], env).code, 0, 'converged');
      assert.ok(ping(`${p}h1`, '10.0.0.50'));
      const d = netlab(['down', name], env);
      assert.equal(d.code, 0, d.stderr);
      assert.deepEqual(leftovers(p), []);
    } finally {
      netlab(['down', name], env);
      removeExact(
        netnsList().filter((n) => n.startsWith(p)),
        hostLinks().filter((l) => l.startsWith(p)),
      );
    }
  });

  test('a namespace and a bridge made by hand are refused by name and never deleted', () => {
    const p = uid();
    const [mine, other, br] = [`${p}m`, `${p}o`, `${p}br`];
    sh('ip', ['netns', 'add', mine]);
    sh('ip', ['link', 'add', 'name', br, 'type', 'bridge']);
    try {
      const f = labFile(`own-${p}`, `name: own-${p}\nnodes:\n  ${mine}:\n  ${other}:\n`);
      const u = netlab(['up', f], env);
      assert.equal(u.code, 3, u.stderr);
      assert.match(u.stderr, new RegExp(`namespace '${mine}' already exists and was not made by lab`));
      assert.match(u.stderr, /nothing was changed/);
      assert.ok(!netnsList().includes(other), 'nothing was created');
      const f2 = labFile(`ownbr-${p}`, `name: ownbr-${p}\nnodes:\n  ${other}:\nbridges:\n  ${br}:\nlinks:\n  - endpoints: [${other}:eth0, ${br}:${p}p]\n`);
      const u2 = netlab(['up', f2], env);
      assert.equal(u2.code, 3);
      assert.match(u2.stderr, new RegExp(`host interface '${br}' already exists`));
      assert.equal(netlab(['down', `own-${p}`], env).code, 0);
      assert.equal(netlab(['down', f2], env).code, 0);
      assert.ok(netnsList().includes(mine), 'down never deletes what the lab did not make');
      assert.ok(hostLinks().includes(br));
    } finally {
      removeExact([mine, other], [br]);
    }
  });

  test('two labs cannot share node names; the second names the owner', () => {
    const p = uid();
    const n = `${p}n`;
    const a = labFile(`a-${p}`, `name: a-${p}\nnodes:\n  ${n}:\n`);
    const b = labFile(`b-${p}`, `name: b-${p}\nnodes:\n  ${n}:\n`);
    try {
      assert.equal(netlab(['up', a], env).code, 0);
      const u = netlab(['up', b], env);
      assert.equal(u.code, 3);
      assert.match(u.stderr, new RegExp(`namespace '${n}' belongs to lab 'a-${p}'`));
      assert.equal(netlab(['down', `b-${p}`], env).code, 0);
      assert.ok(netnsList().includes(n));
    } finally {
      netlab(['down', `a-${p}`], env);
      removeExact([n]);
    }
  });

  test('one up/down per lab at a time: a held lock is refused with exit 5; different labs run together', async () => {
    const p = uid();
    const f = labFile(`lk-${p}`, `name: lk-${p}\nnodes:\n  ${p}x:\n`);
    const holder = spawn('sleep', ['30']);
    mkdirSync(join(state.dir, 'locks'), { recursive: true });
    writeFileSync(join(state.dir, 'locks', `lk-${p}.lock`), `${holder.pid}\n`);
    try {
      const u = netlab(['up', f], env);
      assert.equal(u.code, 5, u.stderr);
      assert.match(u.stderr, new RegExp(`being changed by another netlab \\(pid ${holder.pid}\\)`));
      assert.ok(!netnsList().includes(`${p}x`));
    } finally {
      holder.kill();
    }
    await waitFor(() => holder.exitCode !== null || holder.signalCode !== null);
    // The holder is dead now: its stale lock is taken over.
    assert.equal(netlab(['up', f], env).code, 0);
    // Two different labs at once, and the same lab twice at once.
    const g = labFile(`lk2-${p}`, `name: lk2-${p}\nnodes:\n  ${p}y:\n`);
    const runs = [netlabAsync(['up', g], env), netlabAsync(['up', f], env), netlabAsync(['up', f], env)];
    const codes = await Promise.all(runs.map((c) => new Promise<number>((r) => c.once('exit', (code) => r(code ?? -1)))));
    assert.equal(codes[0], 0, 'a different lab is not blocked');
    assert.ok(
      codes.slice(1).every((c) => c === 0 || c === 5),
      `same lab twice: ${codes}`,
    );
    assert.equal(netlab(['plan', f, '--detailed-exitcode'], env).code, 0);
    for (const l of [`lk-${p}`, `lk2-${p}`]) assert.equal(netlab(['down', l], env).code, 0);
    assert.deepEqual(leftovers(p), []);
  });

  test('down sets down the host end of a namespace that sent a solicitation, so its unresolved neighbour does not hold the kernel for ~1.7 s; idle ports are left', () => {
    const p = uid();
    const name = `nb-${p}`;
    const f = labFile(
      name,
      [
        `name: ${name}`,
        'ipv6_link_local: false',
        'nodes:',
        ...[1, 2, 3].map((i) => `  ${p}h${i}:`),
        'bridges:',
        `  ${p}br:`,
        'links:',
        ...[1, 2, 3].flatMap((i) => [`  - endpoints: [${p}h${i}:eth0, ${p}br:${p}p${i}]`, `    addresses: {${p}h${i}: 10.77.0.${i}/24}`]),
        '',
      ].join('\n'),
    );
    try {
      const u = netlab(['up', f, '--no-checks'], env);
      assert.equal(u.code, 0, `${u.stdout}${u.stderr}`);
      // 10.77.0.99 belongs to nobody: h1 keeps an INCOMPLETE entry with the ping queued on it.
      tryRun('ip', ['netns', 'exec', `${p}h1`, 'ping', '-c', '1', '-W', '1', '10.77.0.99']);
      assert.match(sh('ip', ['-n', `${p}h1`, 'neigh', 'show', '10.77.0.99']), /INCOMPLETE|FAILED/);
      const dry = netlab(['down', name, '--dry-run'], env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, new RegExp(`^link set dev ${p}p1 down$`, 'm'), 'h1 sent solicitations out of eth0: its host end goes down first');
      assert.doesNotMatch(dry.stdout, new RegExp(`^link set dev ${p}p[23] down$`, 'm'), 'h2 and h3 never sent a packet (no IPv6 link-local): nothing to flush');
      const t0 = performance.now();
      const d = netlab(['down', name], env);
      const ms = performance.now() - t0;
      assert.equal(d.code, 0, d.stderr);
      console.log(`# down of a lab with an unresolved neighbour took ${ms.toFixed(0)} ms (without the set-down the kernel holds it ~1.7 s)`);
      assert.ok(ms < 1500, `down took ${ms.toFixed(0)} ms: the unresolved neighbour held the namespace`);
      assert.deepEqual(leftovers(p), []);
    } finally {
      netlab(['down', name], env);
      removeExact(
        [1, 2, 3].map((i) => `${p}h${i}`),
        [`${p}br`],
      );
    }
  });

  test('host sysctls are restored and tagged host iptables rules removed by down', () => {
    const p = uid();
    const name = `host-${p}`;
    const key = '/proc/sys/net/ipv4/neigh/default/gc_thresh3';
    const before = readFileSync(key, 'utf8').trim();
    const save = () =>
      sh('iptables-save', [])
        .replace(/^#.*$/gm, '')
        .replace(/\[\d+:\d+\]/g, '');
    const nft = () => sh('nft', ['list', 'ruleset']).replace(/counter packets \d+ bytes \d+/g, '');
    const [iptBefore, nftBefore] = [save(), nft()];
    const f = labFile(
      name,
      [
        `name: ${name}`,
        'nodes:',
        `  ${p}a:`,
        'bridges:',
        `  ${p}br: {addresses: 10.76.0.1/24}`,
        'links:',
        `  - endpoints: [${p}a:eth0, ${p}br:${p}pa]`,
        `    addresses: {${p}a: 10.76.0.2/24}`,
        'host:',
        '  sysctls:',
        `    net.ipv4.neigh.default.gc_thresh3: ${Number(before) + 7}`,
        `    net.ipv4.conf.${p}br.proxy_arp: 1`,
        '  iptables:',
        '    filter:',
        `      FORWARD: ["-i ${p}br -o ${p}br -j ACCEPT"]`,
        `      INPUT: ["-i ${p}br -p icmp -j ACCEPT"]`,
        '',
      ].join('\n'),
    );
    try {
      const u = netlab(['up', f], env);
      assert.equal(u.code, 0, `${u.stdout}${u.stderr}`);
      assert.equal(readFileSync(key, 'utf8').trim(), String(Number(before) + 7));
      assert.match(save(), new RegExp(`-A FORWARD -i ${p}br -o ${p}br -m comment --comment "?netlab:${name}"? -j ACCEPT`));
      assert.equal(netlab(['plan', f, '--detailed-exitcode'], env).code, 0, 'host rules and sysctls converge');
      assert.ok(ping(`${p}a`, '10.76.0.1'));
      const d = netlab(['down', name], env);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(readFileSync(key, 'utf8').trim(), before, 'sysctl restored');
      assert.equal(save(), iptBefore, 'iptables as before');
      assert.equal(nft(), nftBefore, 'nft ruleset as before');
    } finally {
      netlab(['down', name], env);
      removeExact([`${p}a`], [`${p}br`]);
    }
  });
});
