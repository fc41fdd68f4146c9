// An instance's uplink (host: uplink: true), in a private world that plays the real host (never
// this machine's own): two instances made at once get a /30 each, reach an address beyond that
// host only through NAT on both sides, and not each other; status shows it; up repairs a rule, a
// route or the whole veth removed by hand; down (in the order they were made) and gc leave the
// host exactly as it was; a host that does not forward refuses it before anything is made.
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from '../lib/host.js';
import { compare } from '../lib/snapshot.js';
import { World } from '../lib/world.js';

// The far address is on a namespace of the world's that knows no route back but to the world's
// own address: a reply reaches the lab only if both NATs rewrote the request.
const INTERNET = `set -e
ip netns add inet
ip link add wan0 type veth peer name eth0 netns inet
ip link set wan0 addrgenmode none
ip addr add 203.0.113.1/24 dev wan0
ip link set wan0 up
ip -n inet link set lo up
ip -n inet link set eth0 up
ip -n inet addr add 203.0.113.2/24 dev eth0
ip -n inet addr add 198.51.100.1/32 dev lo
ip route add default via 203.0.113.2
sysctl -qw net.ipv4.ip_forward=1`;

const LAB = `name: upl
nodes:
  n1:
    routes: [default via 10.61.0.1]
bridges:
  br0: {addresses: 10.61.0.1/24}
links:
  - endpoints: [n1:eth0, br0:p1]
    addresses: {n1: 10.61.0.2/24}
host:
  uplink: true
  sysctls: {net.ipv4.ip_forward: 1}
checks:
  - ping: {from: n1, to: 198.51.100.1, why: the world routes it out by its uplink; both sides NAT it}
`;

describe('an instance with an uplink (a private world plays the real host)', () => {
  test('two at once: NATed out through the real host, not into each other; status shows it; up repairs it; down and gc leave the host as it was; no forwarding, nothing made', async () => {
    const w = World.create();
    try {
      const setup = w.sh(INTERNET);
      assert.equal(setup.code, 0, setup.stderr);
      const file = join(w.dir, 'upl.yaml');
      writeFileSync(file, LAB);
      const tagged = (name = 'alice') =>
        w
          .sh('iptables-save')
          .stdout.split('\n')
          .filter((l) => l.includes(`netlab:upl@${name}`));
      const world = (name: string, cmd: string) => w.sh(`nsenter --net=${join(w.stateDir, 'instances', `upl@${name}`, 'net')} ${cmd}`);
      const before = w.snapshot();

      // Two instances at once: a /30 each (the uplinks are made one at a time).
      const upAt = (name: string) =>
        new Promise<{ code: number | null; out: string; err: string }>((res) => {
          const [cmd, ...args] = w.argv(process.execPath, [CLI, 'up', file, '--instance', name]);
          const c = spawn(cmd!, args, { env: { ...process.env, NETLAB_STATE_DIR: w.stateDir } });
          let out = '';
          let err = '';
          c.stdout.on('data', (d) => (out += d));
          c.stderr.on('data', (d) => (err += d));
          c.on('close', (code) => res({ code, out, err }));
        });
      const [alice, bob] = await Promise.all([upAt('alice'), upAt('bob')]);
      for (const [name, up] of [
        ['alice', alice],
        ['bob', bob],
      ] as const) {
        assert.equal(up.code, 0, `${name}: ${up.out}${up.err}`);
        assert.match(up.err, new RegExp(`instance upl@${name}: uplink 169\\.254\\.240\\.[26] -> nlu-[0-9a-f]{8} \\(169\\.254\\.240\\.[15]\\) on the real host, NATed`));
        assert.match(up.out, /✔ met {2}ping {3}n1 {4}198\.51\.100\.1 .*\n[\s\S]*✔ lab upl@\w+ is up · 1\/1 checks met/);
        assert.equal(tagged(name).length, 4, `masquerade, two accepts and a drop into other uplinks:\n${tagged(name).join('\n')}`);
      }
      const addr = (name: string) => /inet (169\.254\.240\.\d+)\/30/.exec(world(name, 'ip -4 -o addr show dev netlab-uplink').stdout)?.[1];
      assert.deepEqual([addr('alice'), addr('bob')].sort(), ['169.254.240.2', '169.254.240.6']);
      assert.equal(w.sh('ip -br link').stdout.match(/^nlu-[0-9a-f]{8}@\S+ +UP /gm)?.length, 2);
      // Each reaches beyond the host, and not the other's world.
      assert.equal(world('alice', 'ping -c1 -W1 198.51.100.1').code, 0);
      assert.notEqual(world('alice', `ping -c1 -W1 ${addr('bob')}`).code, 0, "alice's world does not reach bob's");
      assert.notEqual(world('bob', `ping -c1 -W1 ${addr('alice')}`).code, 0, "bob's world does not reach alice's");
      assert.match(
        w.netlab(['status']).stdout,
        new RegExp(`upl@alice .*\\n {2}file: .*\\n {2}uplink: ${addr('alice')!.replace(/\./g, '\\.')} via 169\\.254\\.240\\.[15] \\(nlu-[0-9a-f]{8} on the real host, NATed\\)`),
      );

      // Without the real host's masquerade the far end cannot answer: the check fails; up puts it back.
      const masq = tagged().find((l) => l.includes('MASQUERADE'))!;
      assert.equal(w.sh(`iptables -t nat ${masq.replace(/^-A/, '-D')}`).code, 0);
      assert.equal(w.netlab(['check', 'upl@alice']).code, 4, 'the ping fails without the NAT');
      const again = w.netlab(['up', 'upl@alice']);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(again.stderr, /instance upl@alice: its uplink's rules on the real host put back/);
      assert.equal(tagged().length, 4);
      const quiet = w.netlab(['up', file, '--instance', 'alice']);
      assert.equal(quiet.code, 0, quiet.stdout + quiet.stderr);
      assert.doesNotMatch(quiet.stderr, /uplink/, 'an uplink in place is left as it is');
      // In the world: its default route removed, then its end of the veth (which takes the real
      // host's with it). Each up repairs it.
      assert.equal(world('alice', 'ip route del default').code, 0);
      assert.equal(w.netlab(['up', 'upl@alice']).code, 0);
      assert.match(world('alice', 'ip route show default').stdout, /^default via 169\.254\.240\.[15] dev netlab-uplink/);
      assert.equal(world('alice', 'ip link del netlab-uplink').code, 0);
      const remade = w.netlab(['up', 'upl@alice']);
      assert.equal(remade.code, 0, remade.stdout + remade.stderr);
      assert.match(remade.stderr, /uplink 169\.254\.240\.\d+ -> nlu-[0-9a-f]{8} \(169\.254\.240\.\d+\) on the real host, NATed \(made again: its veth was gone\)/);
      assert.match(remade.stdout, /1\/1 checks met/);
      assert.equal(tagged().length, 4, 'the old rules went, the new ones came');

      // Down in the order they were made: the tables the first uplink's rules brought go with the last.
      const dry = w.netlab(['down', 'upl@alice', '--dry-run']);
      assert.match(dry.stderr, /# would then remove the world of instance upl@alice, and its uplink nlu-[0-9a-f]{8} and its rules on the real host/);
      const down = w.netlab(['down', 'upl@alice']);
      assert.equal(down.code, 0, down.stdout + down.stderr);
      assert.match(down.stderr, /instance upl@alice: its world is removed, with its uplink \(uplink nlu-[0-9a-f]{8} of instance upl@alice, 4 iptables rule\(s\) of instance upl@alice's uplink\)/);
      assert.equal(tagged('bob').length, 4, "bob's uplink is untouched");
      assert.equal(world('bob', 'ping -c1 -W1 198.51.100.1').code, 0);
      assert.equal(w.netlab(['down', 'upl@bob']).code, 0);
      assert.deepEqual(compare(before, w.snapshot()), [], 'the host after down is the host before up');

      // gc: an instance whose lab is gone (its journal removed) goes, with its uplink.
      assert.equal(w.netlab(['up', file, '--instance', 'alice', '--no-checks']).code, 0);
      const instances = join(w.stateDir, 'instances');
      rmSync(join(instances, 'upl@alice', 'state', 'labs', 'upl.json'));
      const gc = w.netlab(['gc']);
      assert.equal(gc.code, 0, gc.stdout + gc.stderr);
      assert.match(gc.stdout, /uplink nlu-[0-9a-f]{8} of instance upl@alice\n {2}4 iptables rule\(s\) of instance upl@alice's uplink\n {2}world of instance upl@alice/);
      assert.deepEqual(compare(before, w.snapshot()), [], 'the host after gc is the host before up');

      // A host that does not forward: refused with the fix, before the world is made.
      assert.equal(w.sh('sysctl -qw net.ipv4.ip_forward=0').code, 0);
      const refused = w.netlab(['up', file, '--instance', 'bob']);
      assert.equal(refused.code, 3, refused.stdout + refused.stderr);
      assert.match(
        refused.stderr,
        /instance upl@bob: the lab asks for an uplink \(host: uplink: true\), and this machine does not forward \(net\.ipv4\.ip_forward=0\)\n {2}hint: netlab does not turn a machine into a router/,
      );
      assert.ok(!existsSync(instances) || !readdirSync(instances).includes('upl@bob'), 'no world was made');
      assert.doesNotMatch(w.sh('ip -br link').stdout, /nlu-/);
    } finally {
      w.destroy();
    }
  });
});
