// netlab trace, pure parts: the trace tables, parsing `nft -a monitor trace` captured from the
// kernel into packets, following a connection through NAT, endings and text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadLab } from '../../src/load/lab.js';
import type { RawLab } from '../../src/load/raw.js';
import { crossLinks, splitLab } from '../../src/load/split.js';
import {
  bridged,
  connection,
  connectionSegments,
  endingOf,
  formatPackets,
  packetsOf,
  parseConntrack,
  parseSegments,
  rewritesOf,
  routeQuery,
  routingWhy,
  traceTable,
  type PeerOf,
  type Segment,
  type TraceSpec,
} from '../../src/trace/parse.js';
import { assemble, formatTrace, iptablesByHandle, listenerOf, peers, type TracedSegment } from '../../src/trace/trace.js';

test('the trace table sets nftrace first and witnesses the other hooks last', () => {
  const t = traceTable({ to: '10.0.2.2', family: 'ipv4', proto: 'tcp', port: 80 });
  assert.match(t, /^table inet netlab_trace \{/);
  assert.match(t, /hook prerouting priority -350; meta nfproto ipv4 meta l4proto \{ tcp, icmp \} meta nftrace set 1;/);
  assert.match(t, /chain local_in \{ type filter hook input priority 350; \}/);
  assert.doesNotMatch(t, /table bridge/);
  assert.match(
    traceTable({ to: '2001:db8::2', family: 'ipv6', proto: 'icmp' }, 'x', { bridge: true, ifaces: ['br1', 'tap1'] }),
    /table bridge x[\s\S]*iifname \{ "br1", "tap1" \} meta protocol ip6 meta l4proto ipv6-icmp/,
  );
});

const fx = (f: string) => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/trace/${f}`, import.meta.url)), 'utf8');

test('a forwarded packet walks raw, mangle, nat PREROUTING, then FORWARD and POSTROUTING, and leaves by eth1', () => {
  const [s, ...rest] = parseSegments('router', fx('router-forward.txt'));
  assert.equal(rest.length, 0);
  assert.deepEqual(
    s!.hops.filter((h) => !h.own).map((h) => `${h.table}/${h.chain}`),
    ['raw/PREROUTING', 'mangle/PREROUTING', 'nat/PREROUTING', 'mangle/FORWARD', 'filter/FORWARD', 'mangle/POSTROUTING', 'nat/POSTROUTING'],
  );
  assert.equal(s!.iif, 'eth0');
  assert.deepEqual(s!.ending, { kind: 'forwarded', oif: 'eth1' });
  assert.deepEqual(routeQuery(s!), ['ip', 'route', 'get', '10.0.2.2', 'from', '10.0.1.2', 'iif', 'eth0', 'ipproto', 'icmp']);
});

test('a bridged packet (kernel capture): bridge family and br_netfilter hops, one segment per packet, no routing asked', () => {
  const segs = parseSegments('r', fx('bridge-netfilter.txt'));
  assert.deepEqual(
    segs.map((s) => [s.entry.icmp, s.iif, s.oif, s.ending.kind]),
    [
      ['echo-request', 'p1', 'p2', 'forwarded'],
      ['echo-reply', 'p2', 'p1', 'forwarded'],
    ],
  );
  const fwd = segs[0]!.hops.find((h) => h.table === 'filter')!;
  assert.deepEqual([fwd.family, fwd.hook, fwd.hits.length, fwd.verdict], ['ip', 'FORWARD', 1, 'policy accept']);
  assert.ok(bridged(segs[0]!));
  assert.equal(routeQuery(segs[0]!), undefined);
});

test('marks as they change, and the iptables form of a rule found by its handle (kernel capture)', () => {
  const [s] = parseSegments('r', fx('mark.txt'));
  const mangle = s!.hops.find((h) => h.table === 'mangle')!;
  assert.deepEqual([mangle.markIn, mangle.markOut, mangle.hits[0]!.handle], [undefined, '0x40000', 2]);
  const nft =
    'table ip mangle { # handle 1\n\tchain PREROUTING { # handle 1\n\t\ttype filter hook prerouting priority mangle; policy accept;\n\t\tmeta l4proto icmp counter packets 2 bytes 168 meta mark set mark or 0x40000 # handle 2\n\t}\n}';
  const save = '*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p icmp -j MARK --set-xmark 0x40000/0x40000\nCOMMIT\n*filter\n-A PREROUTING -j DROP\nCOMMIT';
  assert.deepEqual([...iptablesByHandle(nft, save, 'mangle')], [[2, '-A PREROUTING -p icmp -j MARK --set-xmark 0x40000/0x40000']]);
});

/** A DNAT port forward seen by three namespaces: SYN, SYN-ACK, and noise from another connection. */
const client = `trace id 1 inet netlab_trace out packet: oif "eth0" ip saddr 10.0.1.2 ip daddr 10.0.1.1 ip id 7 ip length 60 tcp sport 40000 tcp dport 8080 tcp flags == syn
trace id 1 inet netlab_trace out policy accept
trace id 1 inet netlab_trace post packet: oif "eth0" ip saddr 10.0.1.2 ip daddr 10.0.1.1 ip id 7 ip length 60 tcp sport 40000 tcp dport 8080 tcp flags == syn
trace id 1 inet netlab_trace post policy accept
trace id 2 inet netlab_trace out packet: oif "eth0" ip saddr 10.0.1.2 ip daddr 10.0.1.9 ip id 9 ip length 60 tcp sport 40001 tcp dport 22 tcp flags == syn
trace id 2 inet netlab_trace out policy accept
trace id 3 inet netlab_trace pre packet: iif "eth0" ip saddr 10.0.1.1 ip daddr 10.0.1.2 ip id 0 ip length 60 tcp sport 8080 tcp dport 40000 tcp flags == 0x12
trace id 3 inet netlab_trace pre policy accept
trace id 3 inet netlab_trace local_in packet: iif "eth0" ip saddr 10.0.1.1 ip daddr 10.0.1.2 ip id 0 ip length 60 tcp sport 8080 tcp dport 40000 tcp flags == 0x12
trace id 3 inet netlab_trace local_in policy accept`;
const router = `trace id 4 inet netlab_trace pre packet: iif "eth0" ip saddr 10.0.1.2 ip daddr 10.0.1.1 ip id 7 ip length 60 tcp sport 40000 tcp dport 8080 tcp flags == syn
trace id 4 inet netlab_trace pre policy accept
trace id 4 ip nat PREROUTING packet: iif "eth0" ip saddr 10.0.1.2 ip daddr 10.0.1.1 ip id 7 ip length 60 tcp sport 40000 tcp dport 8080 tcp flags == syn
trace id 4 ip nat PREROUTING rule iifname "eth0" tcp dport 8080 counter packets 0 bytes 0 dnat to 10.0.2.2:80 # handle 3 (verdict accept)
trace id 4 ip filter FORWARD packet: iif "eth0" oif "eth1" ip saddr 10.0.1.2 ip daddr 10.0.2.2 ip id 7 ip length 60 tcp sport 40000 tcp dport 80 tcp flags == syn
trace id 4 ip filter FORWARD policy accept
trace id 4 inet netlab_trace post packet: iif "eth0" oif "eth1" ip saddr 10.0.1.2 ip daddr 10.0.2.2 ip id 7 ip length 60 tcp sport 40000 tcp dport 80 tcp flags == syn
trace id 4 inet netlab_trace post policy accept
trace id 5 inet netlab_trace pre packet: iif "eth1" ip saddr 10.0.2.2 ip daddr 10.0.1.2 ip id 0 ip length 60 tcp sport 80 tcp dport 40000 tcp flags == 0x12
trace id 5 inet netlab_trace pre policy accept
trace id 5 ip filter FORWARD packet: iif "eth1" oif "eth0" ip saddr 10.0.2.2 ip daddr 10.0.1.2 ip id 0 ip length 60 tcp sport 80 tcp dport 40000 tcp flags == 0x12
trace id 5 ip filter FORWARD policy accept
trace id 5 inet netlab_trace post packet: iif "eth1" oif "eth0" ip saddr 10.0.1.1 ip daddr 10.0.1.2 ip id 0 ip length 60 tcp sport 8080 tcp dport 40000 tcp flags == 0x12
trace id 5 inet netlab_trace post policy accept`;
const server = `trace id 6 inet netlab_trace pre packet: iif "eth0" ip saddr 10.0.1.2 ip daddr 10.0.2.2 ip id 7 ip length 60 tcp sport 40000 tcp dport 80 tcp flags == syn
trace id 6 inet netlab_trace pre policy accept
trace id 6 inet netlab_trace local_in packet: iif "eth0" ip saddr 10.0.1.2 ip daddr 10.0.2.2 ip id 7 ip length 60 tcp sport 40000 tcp dport 80 tcp flags == syn
trace id 6 inet netlab_trace local_in policy accept
trace id 6 inet netlab_trace out packet: oif "eth0" ip saddr 10.0.2.2 ip daddr 10.0.1.2 ip id 0 ip length 60 tcp sport 80 tcp dport 40000 tcp flags == 0x12
trace id 6 inet netlab_trace out policy accept
trace id 6 inet netlab_trace post packet: oif "eth0" ip saddr 10.0.2.2 ip daddr 10.0.1.2 ip id 0 ip length 60 tcp sport 80 tcp dport 40000 tcp flags == 0x12
trace id 6 inet netlab_trace post policy accept`;
const links: Record<string, { ns: string; ifname: string }> = {
  'client|eth0': { ns: 'router', ifname: 'eth0' },
  'router|eth0': { ns: 'client', ifname: 'eth0' },
  'router|eth1': { ns: 'server', ifname: 'eth0' },
  'server|eth0': { ns: 'router', ifname: 'eth1' },
};
const peerOf: PeerOf = (ns, i) => links[`${ns}|${i}`];

test('a DNATed connection is followed to the server and back; NAT before -> after; packets labelled', () => {
  const all = [...parseSegments('client', client), ...parseSegments('router', router), ...parseSegments('server', server)];
  const conn = connectionSegments(all, 'client', { to: '10.0.1.1', family: 'ipv4', proto: 'tcp', port: 8080 });
  assert.equal(conn.length, 6, 'the ssh SYN to 10.0.1.9 is not part of it');
  const packets = packetsOf(conn, 'client', peerOf);
  assert.deepEqual(
    packets.map((p) => [p.label, p.direction, p.segments.map((s) => s.ns).join('>')]),
    [
      ['SYN', 'request', 'client>router>server'],
      ['SYN-ACK', 'reply', 'server>router>client'],
    ],
  );
  assert.deepEqual(rewritesOf(packets[0]!.segments[1]!), [{ hop: 1, kind: 'DNAT', before: '10.0.1.1:8080', after: '10.0.2.2:80' }]);
  assert.deepEqual(
    rewritesOf(packets[1]!.segments[1]!).map((r) => r.kind),
    ["SNAT by conntrack (this connection's NAT)"],
  );
  const out = endingOf(packets[0]!, peerOf);
  assert.deepEqual([out.result, out.ns], ['delivered', 'server']);
  const text = formatPackets(packets, peerOf, out).join('\n');
  assert.match(text, /^packet 1: SYN {2}10\.0\.1\.2:40000 -> 10\.0\.1\.1:8080 {3}client -> router -> server$/m);
  assert.match(text, /rule iifname "eth0" tcp dport 8080 dnat to 10\.0\.2\.2:80 {2}=> accept/);
  assert.match(text, /DNAT: 10\.0\.1\.1:8080 -> 10\.0\.2\.2:80/);
  assert.match(text, /^packet 2: SYN-ACK \(reply\)/m);
  assert.match(text, /-> out eth1 to server {2}10\.0\.1\.2:40000 -> 10\.0\.2\.2:80/);
});

test('a packet that leaves by an interface with no lab namespace behind it left the lab; one that stops after PREROUTING was dropped by routing', () => {
  const [gone] = parseSegments('router', router.split('\n').slice(0, 8).join('\n'));
  assert.match(endingOf({ n: 1, label: 'SYN', direction: 'request', segments: [gone!] }, () => undefined).text, /^left the lab: router sent it out through eth1/);
  const [stuck] = parseSegments('router', router.split('\n').slice(0, 4).join('\n'));
  assert.equal(stuck!.ending.kind, 'routing');
  const o = endingOf({ n: 1, label: 'SYN', direction: 'request', segments: [stuck!] }, peerOf, {
    command: 'ip route get 10.0.2.2 from 10.0.1.2 iif eth0',
    answer: 'No route to host',
    ok: false,
    why: routingWhy('No route to host', '10.0.2.2', 'eth0', '0'),
  });
  assert.deepEqual([o.result, o.where], ['dropped', 'routing']);
  assert.match(o.text, /forwarding is off on eth0 \(net\.ipv4\.conf\.eth0\.forwarding = 0\)/);
  assert.match(routingWhy('Network is unreachable', '10.9.9.9', 'eth0', '1'), /no route to 10\.9\.9\.9/);
  assert.match(routingWhy('Invalid cross-device link', '10.9.9.9', 'eth0', '1'), /rp_filter/);
});

test('ss output names the listening socket and its process', () => {
  const ss = 'LISTEN 0 5 0.0.0.0:80 0.0.0.0:* users:(("socat",pid=18575,fd=5))\nLISTEN 0 5 127.0.0.1:81 0.0.0.0:*';
  assert.equal(listenerOf(ss, 80, '10.0.2.2'), '0.0.0.0:80 (socat, pid 18575)');
  assert.equal(listenerOf(ss, 81, '10.0.2.2'), undefined);
  assert.equal(listenerOf(ss, 81, '127.0.0.1'), '127.0.0.1:81');
});

test('a routed packet that enters by a bridge port keeps its segment when the kernel changes its trace id, and ids reused by later packets start new ones (kernel capture)', () => {
  const segs = parseSegments('dockerhost', fx('docker-bridge-dockerhost.txt'));
  assert.deepEqual(
    segs.map((s) => `${s.entry.flags} ${s.iif}>${s.oif} ${s.ending.kind}`),
    [
      'SYN veth-c1>eth0 forwarded',
      'SYN-ACK eth0>veth-c1 forwarded',
      'ACK veth-c1>eth0 forwarded',
      'PSH-ACK eth0>veth-c1 forwarded',
      'ACK veth-c1>eth0 forwarded',
      'FIN-ACK eth0>veth-c1 forwarded',
      'FIN-ACK veth-c1>eth0 forwarded',
      'ACK eth0>veth-c1 forwarded',
    ],
  );
  assert.deepEqual(
    rewritesOf(segs[0]!).map((r) => `${r.kind} ${r.before} -> ${r.after}`.replace(/:\d{5}\b/g, ':P')),
    ['MASQUERADE 172.17.0.2:P -> 203.0.113.1:P'],
  );
  assert.ok(!bridged(segs[0]!), 'routed, not bridged');
  assert.deepEqual(routeQuery(segs[0]!)?.slice(0, 8), ['ip', 'route', 'get', '203.0.113.2', 'from', '172.17.0.2', 'iif', 'docker0']);
});

test('a packet the kernel gives a new trace id as the bridge hands it to IP (kernel 6.1) stays one segment', () => {
  const text = fx('docker-bridge-dockerhost.txt');
  const renamed = text.replace(/^trace id e2f6eeb4 (inet|ip) /gm, 'trace id 0badc0de $1 ');
  assert.notEqual(renamed, text);
  const chains = (t: string) => parseSegments('dockerhost', t).map((s) => `${s.entry.flags} ${s.iif}>${s.oif} ${s.ending.kind}: ${s.hops.map((h) => `${h.family} ${h.table}/${h.chain}`).join(', ')}`);
  assert.deepEqual(chains(renamed), chains(text));
});

test('conntrack -L: the original and the reply tuple', () => {
  const c = parseConntrack('tcp      6 119 TIME_WAIT src=10.9.1.2 dst=10.9.1.1 sport=42260 dport=8080 src=10.9.2.2 dst=10.9.1.2 sport=80 dport=42260 [ASSURED] mark=0 use=1');
  assert.deepEqual(c, { original: 'src=10.9.1.2 dst=10.9.1.1 sport=42260 dport=8080', reply: 'src=10.9.2.2 dst=10.9.1.2 sport=80 dport=42260', state: 'TIME_WAIT' });
  assert.equal(parseConntrack('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.'), undefined);
});

test('formatTrace in its short form: the chains of the first packet from hops and an outcome', () => {
  const [s] = parseSegments('router', fx('router-forward.txt'));
  const lines = formatTrace(
    s!.hops.filter((h) => !h.own),
    { result: 'left', text: 'left the lab' },
  );
  assert.equal(lines[0], 'router (in: eth0)');
  assert.match(lines[1]!, /^ {2}PREROUTING {3}raw\/PREROUTING/);
  assert.equal(lines.at(-1), '=> left the lab');
});

test('a REJECT in a custom chain: the jump, then the reject that ends it', () => {
  const log = [
    'trace id 9 inet netlab_trace pre packet: iif "eth0" ip saddr 10.0.80.3 ip daddr 10.0.80.1 ip id 5 ip length 60 tcp sport 5000 tcp dport 80 tcp flags == syn',
    'trace id 9 inet netlab_trace pre policy accept',
    'trace id 9 ip filter INPUT packet: iif "eth0" ip saddr 10.0.80.3 ip daddr 10.0.80.1 ip id 5 ip length 60 tcp sport 5000 tcp dport 80 tcp flags == syn',
    'trace id 9 ip filter INPUT rule tcp dport 80 counter packets 1 bytes 60 jump MY_WEB # handle 4 (verdict jump MY_WEB)',
    'trace id 9 ip filter MY_WEB rule meta l4proto tcp counter packets 1 bytes 60 reject with tcp reset # handle 6 (verdict drop)',
  ].join('\n');
  const [s] = parseSegments('server', log);
  assert.deepEqual(
    s!.hops.filter((h) => !h.own).map((h) => [h.hook, h.chain, h.verdict, h.hits.map((x) => x.verdict).join()]),
    [
      ['INPUT', 'INPUT', '', 'jump MY_WEB'],
      ['INPUT', 'MY_WEB', 'reject', 'reject'],
    ],
  );
  const o = endingOf({ n: 1, label: 'SYN', direction: 'request', segments: [s!] }, () => undefined);
  assert.deepEqual([o.result, o.where], ['rejected', 'filter/MY_WEB']);
});

// A lab across hosts (labs/k8s-cross-node.yaml), traced on two simulated hosts (kernel capture):
// each host's monitors, then the parts' and the whole lab's view.
const K8S = fileURLToPath(new URL('../../../labs/k8s-cross-node.yaml', import.meta.url));
const k8sLog = (host: string, ns: string) => fx(`k8s-cross-node/${host}/${ns}.log`);
const k8sSegments = (host: string, nss: string[]) => nss.flatMap((ns) => parseSegments(ns, k8sLog(host, ns)));
const PING: TraceSpec = { to: '10.244.2.2', family: 'ipv4', proto: 'icmp' };
const probeOk = { command: 'ping', ok: true, output: '' };
const traced = (segs: Segment[], host?: string): TracedSegment[] => segs.map((s) => ({ ...s, rewrites: rewritesOf(s), ...(host ? { host } : {}) }));

test("on a host's part, a packet that leaves through a tunnel ends encapsulated: VNI, UDP to the remote, the peer's host and node (a hand-made vxlan: without them)", () => {
  const text = readFileSync(K8S, 'utf8');
  const lab = loadLab(text, K8S);
  const [part1] = splitLab(lab, parse(text) as RawLab);
  const vni = crossLinks(lab)[0]!.vni;
  const segs = connectionSegments(k8sSegments('node1', ['pod-a', 'k8s-node1']), 'pod-a', PING);
  for (const [partText, names] of [
    [part1!.text, ' (host node2, node k8s-node2)'],
    [part1!.text.replace(/^ +peer:\n( +(host|node): .*\n)+/m, ''), ''],
  ] as const) {
    assert.equal(partText.includes('peer:'), names !== '');
    const peerOf = peers(loadLab(partText, 'node1.yaml'));
    const [req, reply] = packetsOf(segs, 'pod-a', peerOf);
    const want = `encapsulated by k8s-node1's flannel.1: VXLAN VNI ${vni}, UDP to 192.168.56.12:4789${names}`;
    assert.deepEqual(endingOf(req!, peerOf), { result: 'encapsulated', ns: 'k8s-node1', where: 'POSTROUTING', text: want, tunnel: peerOf('k8s-node1', 'flannel.1')!.tunnel });
    assert.equal(reply!.label, 'echo reply');
    const r = assemble(traced(segs), { from: 'pod-a', spec: PING, probe: probeOk, peerOf });
    assert.equal(r.outcome.text, want);
    const lines = formatPackets(r.packets, peerOf, r.outcome);
    assert.ok(lines.includes(`    -> out flannel.1: ${want}  10.244.1.2 -> 10.244.2.2`), lines.join('\n'));
    assert.ok(lines.includes(`  k8s-node1 (in: flannel.1, decapsulated by k8s-node1's flannel.1: VXLAN VNI ${vni} from 192.168.56.12${names})`), lines.join('\n'));
    assert.ok(!lines.some((l) => /left the lab|leaves the lab/.test(l)), lines.join('\n'));
  }
});

test("segments from several hosts join into one story: the source host's keys find the connection on the other; the tunnel joins the packets; delivered in pod-c, and back", () => {
  const lab = loadLab(readFileSync(K8S, 'utf8'), K8S);
  const vni = crossLinks(lab)[0]!.vni;
  const c1 = connection(k8sSegments('node1', ['pod-a', 'k8s-node1']), 'pod-a', PING);
  // The other host alone has no source: without a seed, nothing; with it, its half of the connection.
  const other = k8sSegments('node2', ['k8s-node2', 'pod-c']);
  assert.equal(connection(other, 'pod-a', PING).segments.length, 0);
  const c2 = connection(other, '', PING, c1);
  assert.equal(c2.segments.length, 4);
  const peerOf = peers(lab);
  // Hosts in any order: the story follows the packets.
  const r = assemble([...traced(c2.segments, 'node2'), ...traced(c1.segments, 'node1')], { from: 'pod-a', spec: PING, probe: probeOk, peerOf, firstSrc: '10.244.1.2' });
  assert.deepEqual(
    r.packets.map((p) => `${p.label}: ${p.segments.map((s) => `${s.host}:${s.ns}`).join(' ')} => ${p.ending.result}`),
    ['echo request: node1:pod-a node1:k8s-node1 node2:k8s-node2 node2:pod-c => delivered', 'echo reply: node2:pod-c node2:k8s-node2 node1:k8s-node1 node1:pod-a => delivered'],
  );
  assert.equal(r.outcome.ns, 'pod-c');
  assert.equal(r.outcome.text, `delivered locally in pod-c; encapsulated on the way: VXLAN VNI ${vni} from k8s-node1 (host node1) to 192.168.56.12:4789 (k8s-node2 on host node2)`);
  const lines = formatTrace(r, lab);
  assert.equal(lines[0], `packet 1: echo request  10.244.1.2 -> 10.244.2.2   pod-a -> k8s-node1 =[VXLAN ${vni}]=> k8s-node2 -> pod-c`);
  assert.ok(
    lines.includes(`    -> out flannel.1: encapsulated by k8s-node1's flannel.1: VXLAN VNI ${vni}, UDP to 192.168.56.12:4789 (host node2, node k8s-node2)  10.244.1.2 -> 10.244.2.2`),
    lines.join('\n'),
  );
  assert.ok(lines.includes(`  k8s-node2 (host node2, in: flannel.1, decapsulated by k8s-node2's flannel.1: VXLAN VNI ${vni} from 192.168.56.11 (host node1, node k8s-node1))`), lines.join('\n'));
  assert.ok(lines.includes(`packet 2: echo reply (reply)  10.244.2.2 -> 10.244.1.2   pod-c -> k8s-node2 =[VXLAN ${vni}]=> k8s-node1 -> pod-a`), lines.join('\n'));
  // A far host that saw nothing: the packet still ends encapsulated, and says who did not see it.
  const half = assemble(traced(c1.segments, 'node1'), { from: 'pod-a', spec: PING, probe: probeOk, peerOf });
  assert.equal(half.outcome.result, 'encapsulated');
  assert.match(half.outcome.text, /; k8s-node2 did not see it \(lost on the underlay, or dropped before netfilter there\)$/);
});
