// An instance's uplink (host: uplink: true), in a private world that plays the real host (never
// this machine's own): the lab reaches an address beyond that host only through NAT on both sides,
// status shows it, a rule removed by hand is put back by up, down and gc leave the host exactly as
// it was, and a host that does not forward refuses it before anything is made.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
  test('up NATs the lab out through the real host; status shows it; up puts a removed rule back; down and gc leave the host as it was; no forwarding, nothing made', () => {
    const w = World.create();
    try {
      const setup = w.sh(INTERNET);
      assert.equal(setup.code, 0, setup.stderr);
      const file = join(w.dir, 'upl.yaml');
      writeFileSync(file, LAB);
      const tagged = () =>
        w
          .sh('iptables-save')
          .stdout.split('\n')
          .filter((l) => l.includes('netlab:upl@alice'));
      const before = w.snapshot();

      const up = w.netlab(['up', file, '--instance', 'alice']);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      assert.match(up.stderr, /instance upl@alice: uplink 169\.254\.240\.2 -> nlu-[0-9a-f]{8} \(169\.254\.240\.1\) on the real host, NATed/);
      assert.match(up.stdout, /✔ met {2}ping {3}n1 {4}198\.51\.100\.1 .*\n[\s\S]*✔ lab upl@alice is up · 1\/1 checks met/);
      assert.equal(tagged().length, 3, `masquerade and two accept rules on the real host:\n${tagged().join('\n')}`);
      assert.match(w.sh('ip -br link').stdout, /^nlu-[0-9a-f]{8}@\S+ +UP /m);
      assert.match(w.netlab(['status']).stdout, /upl@alice .*\n {2}file: .*\n {2}uplink: 169\.254\.240\.2 via 169\.254\.240\.1 \(nlu-[0-9a-f]{8} on the real host, NATed\)/);

      // Without the real host's masquerade the far end cannot answer: the check fails; up puts it back.
      const masq = tagged().find((l) => l.includes('MASQUERADE'))!;
      assert.equal(w.sh(`iptables -t nat ${masq.replace(/^-A/, '-D')}`).code, 0);
      assert.equal(w.netlab(['check', 'upl@alice']).code, 4, 'the ping fails without the NAT');
      const again = w.netlab(['up', 'upl@alice']);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(again.stderr, /instance upl@alice: its uplink's rules on the real host put back/);
      assert.equal(tagged().length, 3);
      const quiet = w.netlab(['up', file, '--instance', 'alice']);
      assert.equal(quiet.code, 0, quiet.stdout + quiet.stderr);
      assert.doesNotMatch(quiet.stderr, /uplink/, 'an uplink in place is left as it is');
      // In the world: its default route removed, then its end of the veth (which takes the real
      // host's with it). Each up repairs it.
      const world = (cmd: string) => w.sh(`nsenter --net=${join(w.stateDir, 'instances', 'upl@alice', 'net')} ${cmd}`);
      assert.equal(world('ip route del default').code, 0);
      assert.equal(w.netlab(['up', 'upl@alice']).code, 0);
      assert.match(world('ip route show default').stdout, /^default via 169\.254\.240\.1 dev netlab-uplink/);
      assert.equal(world('ip link del netlab-uplink').code, 0);
      const remade = w.netlab(['up', 'upl@alice']);
      assert.equal(remade.code, 0, remade.stdout + remade.stderr);
      assert.match(remade.stderr, /uplink 169\.254\.240\.2 -> nlu-[0-9a-f]{8} \(169\.254\.240\.1\) on the real host, NATed \(made again: its veth was gone\)/);
      assert.match(remade.stdout, /1\/1 checks met/);
      assert.equal(tagged().length, 3, 'the old rules went, the new ones came');

      const down = w.netlab(['down', 'upl@alice']);
      assert.equal(down.code, 0, down.stdout + down.stderr);
      assert.match(down.stderr, /instance upl@alice: its world is removed, with its uplink \(uplink nlu-[0-9a-f]{8} of instance upl@alice, 3 iptables rule\(s\) of instance upl@alice's uplink\)/);
      assert.deepEqual(compare(before, w.snapshot()), [], 'the host after down is the host before up');

      // gc: an instance whose lab is gone (its journal removed) goes, with its uplink.
      assert.equal(w.netlab(['up', file, '--instance', 'alice', '--no-checks']).code, 0);
      const instances = join(w.stateDir, 'instances');
      rmSync(join(instances, 'upl@alice', 'state', 'labs', 'upl.json'));
      const gc = w.netlab(['gc']);
      assert.equal(gc.code, 0, gc.stdout + gc.stderr);
      assert.match(gc.stdout, /uplink nlu-[0-9a-f]{8} of instance upl@alice\n {2}3 iptables rule\(s\) of instance upl@alice's uplink\n {2}world of instance upl@alice/);
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
