// render: actions to exact command text, batched per namespace (pure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diff } from '../../src/plan/diff.js';
import { render, scriptOf } from '../../src/render/render.js';
import { emptyObserved, labOf } from '../lib/fixtures.js';

const LAB = `
name: r
nodes:
  a:
    routes:
      - default via 10.0.0.254
      - local default dev lo table 100
      - 2001:db8:9::/48 via 2001:db8::2
    rules:
      - fwmark 0x1/0x1 pref 100 table 100
      - from 2001:db8::/64 table 7
    sysctls:
      net.ipv4.ip_forward: 1
      net.ipv4.conf.eth0.proxy_arp: 1
    iptables:
      filter:
        INPUT: {policy: DROP, rules: [-p tcp --dport 80 -j MY_WEB, -m comment --comment "two words" -j ACCEPT]}
        MY_WEB: [-j ACCEPT]
      mangle:
        PREROUTING: [-p tcp -j TPROXY --tproxy-mark 0x1/0x1 --on-port 8888]
  b:
    ip6tables:
      filter:
        INPUT: [-p ipv6-icmp -j ACCEPT]
bridges:
  br0: {addresses: [10.1.0.1/24], mtu: 1400}
links:
  - endpoints: [a:eth0, b:eth0]
    addresses: {a: [10.0.0.1/24, 2001:db8::1/64], b: [10.0.0.254/24, 2001:db8::2/64]}
  - endpoints: [{node: b, name: eth1, mac: "EE:EE:EE:EE:EE:EE"}, br0:p-b]
host:
  sysctls:
    net.ipv4.neigh.default.gc_thresh3: 2048
  iptables:
    filter:
      FORWARD: [-i br0 -j ACCEPT]
`;

test('one batch per namespace and phase; veths created from the root with ends in place', () => {
  const steps = render(diff(labOf(LAB).desired, emptyObserved(), undefined).actions);
  const argvs = steps.map((s) => s.argv.join(' '));
  assert.deepEqual(argvs, [
    'ip -batch -',
    'ip -batch -',
    'ip -batch -',
    'nsenter --net=/run/netns/a ip -batch -',
    'nsenter --net=/run/netns/a ip -6 -batch -',
    'nsenter --net=/run/netns/b ip -batch -',
    'sysctl -q -w net/ipv4/neigh/default/gc_thresh3=2048',
    'nsenter --net=/run/netns/a sysctl -q -w net/ipv4/ip_forward=1 net/ipv4/conf/eth0/proxy_arp=1',
    'nsenter --net=/run/netns/a iptables-restore -w',
    'nsenter --net=/run/netns/b ip6tables-restore -w',
    'iptables-restore -w --noflush',
  ]);
  assert.equal(steps[0]!.input, 'netns add a\nnetns add b\n');
  assert.equal(
    steps[1]!.input,
    'link add name br0 type bridge\nlink set dev br0 alias netlab:r\nlink add name p-b type veth peer name eth1 netns b\nlink set dev p-b alias netlab:r\nlink add name eth0 netns a type veth peer name eth0 netns b\n',
  );
  assert.equal(steps[2]!.input, 'link set dev br0 mtu 1400 up\naddr add 10.1.0.1/24 dev br0\nlink set dev p-b master br0 up\n');
  assert.equal(
    steps[3]!.input,
    [
      'link set dev lo alias netlab:r up',
      'link set dev eth0 alias netlab:r up',
      'addr add 10.0.0.1/24 dev eth0',
      'addr add 2001:db8::1/64 dev eth0 nodad',
      'route add default via 10.0.0.254',
      'route add local default dev lo table 100',
      'rule add fwmark 0x1/0x1 pref 100 table 100',
      '',
    ].join('\n'),
  );
  assert.equal(steps[4]!.input, 'route add 2001:db8:9::/48 via 2001:db8::2\nrule add from 2001:db8::/64 table 7\n');
  assert.match(steps[5]!.input!, /link set dev eth1 alias netlab:r address ee:ee:ee:ee:ee:ee up/);
  assert.equal(
    steps[8]!.input,
    [
      '*filter',
      ':INPUT DROP [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':MY_WEB - [0:0]',
      '-A INPUT -p tcp --dport 80 -j MY_WEB',
      '-A INPUT -m comment --comment "two words" -j ACCEPT',
      '-A MY_WEB -j ACCEPT',
      'COMMIT',
      '*mangle',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      '-A PREROUTING -p tcp -j TPROXY --tproxy-mark 0x1/0x1 --on-port 8888',
      'COMMIT',
      '',
    ].join('\n'),
  );
  assert.equal(steps[10]!.input, '*filter\n-A FORWARD -i br0 -j ACCEPT -m comment --comment netlab:r\nCOMMIT\n');
});

test('the script prints every step as a pasteable command with a here-document', () => {
  const script = scriptOf(render(diff(labOf(LAB).desired, emptyObserved(), undefined).actions));
  assert.match(script, /^ip -batch - <<'EOF'\nnetns add a\nnetns add b\nEOF\n/);
  assert.match(script, /\nnsenter --net=\/run\/netns\/a sysctl -q -w net\/ipv4\/ip_forward=1 net\/ipv4\/conf\/eth0\/proxy_arp=1\n/);
});
