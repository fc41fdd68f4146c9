// Short-form parsers (ip route / ip rule strings, iptables rule text, sysctl keys) and the
// address arithmetic the loader builds on.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalMark, checkIptablesRule, parseRouteString, parseRuleString, parseSysctlKey, quoteToken, sysctlDisplay, tableId, tableProblem, tokenize } from '../../src/load/syntax.js';
import { contains, hasHostBits, ipJsonDst, isLinkLocal6, networkOf, parseAddress, parseCidr, parsePrefix, type Cidr } from '../../src/model/net.js';

/** Asserts that a parser returned a message (not a value) that contains `part`. */
function fails(v: unknown, part: string | RegExp): void {
  assert.equal(typeof v, 'string', `expected a message, got ${JSON.stringify(v)}`);
  if (typeof part === 'string') assert.ok((v as string).includes(part), `message ${JSON.stringify(v)} does not contain ${JSON.stringify(part)}`);
  else assert.match(v as string, part);
}

describe('parseRouteString', () => {
  test('gateway route', () => {
    assert.deepEqual(parseRouteString('default via 192.168.20.1'), { to: 'default', via: '192.168.20.1' });
  });
  test('typed route with dev and table', () => {
    assert.deepEqual(parseRouteString('local default dev lo table 100'), { type: 'local', to: 'default', dev: 'lo', table: 100 });
  });
  test('on-link host route with scope', () => {
    assert.deepEqual(parseRouteString('169.254.1.1 dev eth0 scope link'), { to: '169.254.1.1', dev: 'eth0', scope: 'link' });
  });
  test("every keyword, the optional 'to', aliases and hex numbers", () => {
    assert.deepEqual(parseRouteString('  to 10.0.0.0/8   via 10.1.0.1 dev eth0 src 10.1.0.2 metric 0x10 table main onlink '), {
      to: '10.0.0.0/8',
      via: '10.1.0.1',
      dev: 'eth0',
      src: '10.1.0.2',
      metric: 16,
      table: 'main',
      onlink: true,
    });
    assert.deepEqual(parseRouteString('10.0.0.0/8 dev eth0 preference 5'), { to: '10.0.0.0/8', dev: 'eth0', metric: 5 });
    assert.deepEqual(parseRouteString('10.0.0.0/8 dev eth0 priority 6'), { to: '10.0.0.0/8', dev: 'eth0', metric: 6 });
    assert.deepEqual(parseRouteString('unreachable 10.66.0.0/16'), { type: 'unreachable', to: '10.66.0.0/16' });
    assert.deepEqual(parseRouteString('blackhole default table 0x64'), { type: 'blackhole', to: 'default', table: 100 });
  });
  test('the parser keeps values as written: ranges and names are checked by the loader', () => {
    assert.deepEqual(parseRouteString('default dev eth0 table isp2'), { to: 'default', dev: 'eth0', table: 'isp2' });
    assert.deepEqual(parseRouteString('default dev eth0 table 0'), { to: 'default', dev: 'eth0', table: 0 });
    assert.deepEqual(parseRouteString('not-an-address dev eth0'), { to: 'not-an-address', dev: 'eth0' });
  });
  test('malformed strings', () => {
    fails(parseRouteString(''), 'expected a destination');
    fails(parseRouteString('   '), 'expected a destination');
    fails(parseRouteString('local'), 'expected a destination');
    fails(parseRouteString('default via'), "'via' needs a value");
    fails(parseRouteString('10.0.0.0/8 dev eth0 proto static'), "unknown route keyword 'proto'");
    fails(parseRouteString('10.0.0.0/8 gw 10.1.0.1'), "ip route writes the gateway as 'via 10.1.0.1'");
    fails(parseRouteString('10.0.0.0/8 dev eth0 metric high'), "metric must be a number, got 'high'");
    fails(parseRouteString('10.0.0.0/8 dev eth0 metric -1'), 'metric must be a number');
    fails(parseRouteString('via 10.1.0.1'), 'expected a destination ("default", an address or a prefix) before \'via\'');
    fails(parseRouteString('broadcast 10.0.0.255 dev eth0'), "route type 'broadcast' is not supported");
  });
});

describe('parseRuleString', () => {
  test('fwmark rule', () => {
    assert.deepEqual(parseRuleString('fwmark 0x1/0x1 pref 100 table 100'), { fwmark: '0x1/0x1', pref: 100, table: 100 });
  });
  test('every keyword and the aliases ip rule prints', () => {
    assert.deepEqual(parseRuleString('from 10.0.0.0/8 to 192.168.0.0/16 iif eth0 oif eth1 priority 7 lookup main'), {
      from: '10.0.0.0/8',
      to: '192.168.0.0/16',
      iif: 'eth0',
      oif: 'eth1',
      pref: 7,
      table: 'main',
    });
    assert.deepEqual(parseRuleString('from all preference 0x20 table 0x64'), { from: 'all', pref: 32, table: 100 });
  });
  test('malformed strings', () => {
    fails(parseRuleString('fwmark 0x1 pref 100'), "a rule needs 'table N'");
    fails(parseRuleString(''), "a rule needs 'table N'");
    fails(parseRuleString('from 10.0.0.0/8 table'), "'table' needs a value");
    fails(parseRuleString('from all mark 1 table 100'), "unknown rule keyword 'mark'");
    fails(parseRuleString('pref first table 100'), "pref must be a number, got 'first'");
  });
});

describe('tableId and tableProblem', () => {
  test('names and the default', () => {
    assert.equal(tableId(undefined), 254);
    assert.equal(tableId('main'), 254);
    assert.equal(tableId('local'), 255);
    assert.equal(tableId('default'), 253);
  });
  test('numbers in range', () => {
    for (const n of [1, 100, 252, 256, 0xffffffff]) assert.equal(tableId(n), n);
  });
  test('numbers out of range, reserved numbers and unknown names', () => {
    for (const v of [0, -1, 253, 254, 255, 0x100000000, 1.5, 'isp2', 'MAIN', '100']) assert.equal(tableId(v), undefined, String(v));
  });
  test('messages say what is wrong and what to write', () => {
    assert.deepEqual(tableProblem(0), { message: 'table 0 is out of range', hint: 'use 1-252 or 256-4294967295, or main, local, default' });
    assert.deepEqual(tableProblem(255), { message: "table 255 is out of range: it is the local table's number", hint: "write 'table local'" });
    assert.equal(tableProblem(254).hint, "write 'table main'");
    assert.equal(tableProblem(253).hint, "write 'table default'");
    assert.equal(tableProblem('isp2').message, "unknown table 'isp2'");
    assert.match(tableProblem('isp2').hint, /rt_tables/);
  });
});

describe('canonicalMark', () => {
  test('decimal, hex and integers become lower-case hex', () => {
    assert.equal(canonicalMark('0x1/0x1'), '0x1/0x1');
    assert.equal(canonicalMark(1), '0x1');
    assert.equal(canonicalMark('1'), '0x1');
    assert.equal(canonicalMark('255/0xFF'), '0xff/0xff');
    assert.equal(canonicalMark('0X1A'), '0x1a');
    assert.equal(canonicalMark(0), '0x0');
  });
  test('a full mask is the same as no mask, as ip rule prints it', () => {
    assert.equal(canonicalMark('0x10/0xffffffff'), '0x10');
    assert.equal(canonicalMark('0x10/4294967295'), '0x10');
  });
  test('malformed or wider than 32 bits', () => {
    for (const v of ['', 'mark', '0x', '0xg', '1/', '/1', '1/2/3', '-1', '1.5', '0x100000000', '1/0x100000000', -1, 1.5]) assert.equal(canonicalMark(v), undefined, String(v));
  });
});

describe('tokenize (as iptables-restore splits a rule)', () => {
  test('whitespace', () => {
    assert.deepEqual(tokenize('  -s   10.0.0.1\t-j DROP '), ['-s', '10.0.0.1', '-j', 'DROP']);
    assert.deepEqual(tokenize(''), []);
  });
  test('double quotes, backslash escapes inside them, empty strings', () => {
    assert.deepEqual(tokenize('-m comment --comment "lab rule 1"'), ['-m', 'comment', '--comment', 'lab rule 1']);
    assert.deepEqual(tokenize('--log-prefix "say \\"hi\\" \\\\ "'), ['--log-prefix', 'say "hi" \\ ']);
    assert.deepEqual(tokenize('--comment ""'), ['--comment', '']);
    assert.deepEqual(tokenize('--comment "it\'s"'), ['--comment', "it's"]);
  });
  test('a closing quote ends the word; an opening quote inside a word continues it', () => {
    assert.deepEqual(tokenize('"a"b'), ['a', 'b']);
    assert.deepEqual(tokenize('a"b c"'), ['ab c']);
  });
  test('backslashes outside quotes are ordinary characters', () => {
    assert.deepEqual(tokenize('--log-prefix a\\b'), ['--log-prefix', 'a\\b']);
  });
  test('unterminated quotes and single quotes are refused', () => {
    fails(tokenize('--comment "abc'), 'unterminated " quote');
    fails(tokenize("--comment 'a b'"), 'use double quotes');
  });
  test('quoteToken produces what tokenize reads back', () => {
    for (const tok of ['plain', '10.0.0.0/8', 'two words', 'say "hi"', 'back\\slash', "it's", '', '--dport']) {
      const q = quoteToken(tok);
      assert.deepEqual(tokenize(q), [tok], `${tok} -> ${q}`);
    }
    assert.equal(quoteToken('ACCEPT'), 'ACCEPT');
    assert.equal(quoteToken('a b'), '"a b"');
  });
});

describe('checkIptablesRule', () => {
  test('ordinary rules, with the target they jump to', () => {
    assert.deepEqual(checkIptablesRule('-p tcp --dport 22 -j ACCEPT'), { tokens: ['-p', 'tcp', '--dport', '22', '-j', 'ACCEPT'], target: 'ACCEPT' });
    assert.deepEqual(checkIptablesRule('! -s 10.0.0.0/8 -g from-lan'), { tokens: ['!', '-s', '10.0.0.0/8', '-g', 'from-lan'], target: 'from-lan' });
    assert.deepEqual(checkIptablesRule('-m conntrack --ctstate ESTABLISHED,RELATED'), { tokens: ['-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED'] });
    assert.equal((checkIptablesRule('-o eth0 --jump MASQUERADE') as { target?: string }).target, 'MASQUERADE');
    assert.equal((checkIptablesRule('-p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400') as { target?: string }).target, 'TCPMSS');
  });
  test('glued target forms getopt accepts are seen too', () => {
    assert.equal((checkIptablesRule('-s 10.0.0.1 -jDROP') as { target?: string }).target, 'DROP');
    assert.equal((checkIptablesRule('-s 10.0.0.1 --jump=my-chain') as { target?: string }).target, 'my-chain');
    assert.equal((checkIptablesRule('-s 10.0.0.1 --goto=my-chain') as { target?: string }).target, 'my-chain');
  });
  test('more than one line, control characters and non-ASCII', () => {
    fails(checkIptablesRule('-j ACCEPT\n-A OUTPUT -j DROP'), 'a rule must be one line');
    fails(checkIptablesRule('-j ACCEPT\r'), 'a rule must be one line');
    fails(checkIptablesRule('-j ACCEPT\0'), 'a rule must be one line');
    fails(checkIptablesRule('-j\tACCEPT\u000b'), 'printable ASCII');
    fails(checkIptablesRule('-m comment --comment "café" -j ACCEPT'), 'printable ASCII');
  });
  test('empty rules and iptables-restore syntax', () => {
    fails(checkIptablesRule(''), 'empty rule');
    fails(checkIptablesRule('   '), 'empty rule');
    fails(checkIptablesRule('COMMIT'), "'COMMIT' is iptables-restore syntax");
    fails(checkIptablesRule('*nat'), "'*nat' is iptables-restore syntax");
    fails(checkIptablesRule(':MYCHAIN - [0:0]'), "':MYCHAIN' is iptables-restore syntax");
    fails(checkIptablesRule('# a comment'), "'#' is iptables-restore syntax");
    fails(checkIptablesRule('-s 10.0.0.1 -j ACCEPT COMMIT'), "'COMMIT' is not allowed in a rule");
    fails(checkIptablesRule('iptables -A INPUT -j DROP'), "a rule starts with an option such as -s, -p or -j, not 'iptables'");
  });
  test('command options: the table and chain come from the file', () => {
    for (const tok of ['-A', '--append', '-I', '--insert', '-D', '-R', '-N', '-X', '-F', '-P', '-E', '-Z', '-L', '-S', '-C', '-t', '--table', '-h', '-V', '-M']) {
      fails(checkIptablesRule(`-s 10.0.0.1 ${tok} x -j DROP`), `'${tok}' is an iptables command option`);
    }
    fails(checkIptablesRule('-A INPUT -j DROP'), "'-A' is an iptables command option");
    fails(checkIptablesRule('-AI -j DROP'), "'-AI' is an iptables command option");
    fails(checkIptablesRule('-tnat -j DROP'), "'-tnat' is an iptables command option");
    fails(checkIptablesRule('--table=nat -j DROP'), "'--table=nat' is an iptables command option");
    fails(checkIptablesRule('--append=OUTPUT -j DROP'), "'--append=OUTPUT' is an iptables command option");
  });
  test('words iptables-restore would take for -t are refused as it refuses them', () => {
    fails(checkIptablesRule('-vt -j DROP'), "iptables-restore would read '-vt' as the -t (table) option");
    fails(checkIptablesRule('--tab nat -j DROP'), "iptables-restore would read '--tab' as the -t (table) option");
    // Not lookalikes: long options and values without a leading dash.
    assert.equal(typeof checkIptablesRule('-p tcp -m tcp --tcp-flags SYN SYN -m time --timestart 10:00 -j ACCEPT'), 'object');
  });
  test('a jump needs a target', () => {
    fails(checkIptablesRule('-s 10.0.0.1 -j'), "'-j' needs a target");
    fails(checkIptablesRule('-s 10.0.0.1 --goto'), "'--goto' needs a target");
  });
});

describe('parseSysctlKey', () => {
  test('global keys, with dots or slashes', () => {
    assert.deepEqual(parseSysctlKey('net.ipv4.ip_forward'), { path: 'net/ipv4/ip_forward' });
    assert.deepEqual(parseSysctlKey('net/ipv4/ip_forward'), { path: 'net/ipv4/ip_forward' });
    assert.deepEqual(parseSysctlKey('kernel.pid_max'), { path: 'kernel/pid_max' });
  });
  test('per-interface keys name the interface; the leaf is not checked (apply finds out, in the namespace it writes to)', () => {
    assert.deepEqual(parseSysctlKey('net.ipv4.conf.tap1.proxy_arp'), { path: 'net/ipv4/conf/tap1/proxy_arp', iface: 'tap1' });
    assert.deepEqual(parseSysctlKey('net/ipv6/conf/eth0/forwarding'), { path: 'net/ipv6/conf/eth0/forwarding', iface: 'eth0' });
    assert.deepEqual(parseSysctlKey('net.ipv4.neigh.eth0.proxy_delay'), { path: 'net/ipv4/neigh/eth0/proxy_delay', iface: 'eth0' });
    assert.deepEqual(parseSysctlKey('net.ipv4.conf.eth0.no_such_leaf'), { path: 'net/ipv4/conf/eth0/no_such_leaf', iface: 'eth0' });
    assert.deepEqual(parseSysctlKey('net.ipv4.neigh.default.gc_thresh3'), { path: 'net/ipv4/neigh/default/gc_thresh3', iface: 'default' });
  });
  test('interface names with dots: every middle part in dot form, one part in slash form', () => {
    const want = { path: 'net/ipv4/conf/eth0.100/rp_filter', iface: 'eth0.100' };
    assert.deepEqual(parseSysctlKey('net.ipv4.conf.eth0.100.rp_filter'), want);
    assert.deepEqual(parseSysctlKey('net/ipv4/conf/eth0.100/rp_filter'), want);
  });
  test('all and default; neigh has no all', () => {
    assert.deepEqual(parseSysctlKey('net.ipv4.conf.all.forwarding'), { path: 'net/ipv4/conf/all/forwarding', iface: 'all' });
    assert.deepEqual(parseSysctlKey('net.ipv6.conf.default.proxy_ndp'), { path: 'net/ipv6/conf/default/proxy_ndp', iface: 'default' });
    fails(parseSysctlKey('net/ipv4/neigh/all/proxy_delay'), "net.ipv4.neigh has no 'all'");
  });
  test('directories are not settings', () => {
    fails(parseSysctlKey('net'), '/proc/sys/net is a directory');
    fails(parseSysctlKey('net.ipv4.conf.all'), '/proc/sys/net/ipv4/conf/all is a directory: name a setting in it, e.g. net.ipv4.conf.all.forwarding');
    fails(parseSysctlKey('net/ipv6/neigh/eth0'), '/proc/sys/net/ipv6/neigh/eth0 is a directory');
  });
  test('malformed keys', () => {
    fails(parseSysctlKey('net.ipv4.ip_forward=1'), 'only letters, digits');
    fails(parseSysctlKey('net ipv4'), 'only letters, digits');
    fails(parseSysctlKey('net..ipv4'), 'malformed sysctl key');
    fails(parseSysctlKey('net/ipv4/../../kernel/x'), 'malformed sysctl key');
    fails(parseSysctlKey('/net/ipv4/ip_forward'), 'malformed sysctl key');
    fails(parseSysctlKey('net.ipv4.'), 'malformed sysctl key');
  });
  test('sysctlDisplay names keys as sysctl(8) does', () => {
    assert.equal(sysctlDisplay('net/ipv4/ip_forward'), 'net.ipv4.ip_forward');
    assert.equal(sysctlDisplay('net/ipv4/conf/eth0.100/rp_filter'), 'net/ipv4/conf/eth0.100/rp_filter');
  });
});

describe('addresses and prefixes', () => {
  test('parseAddress is strict and canonical', () => {
    assert.deepEqual(parseAddress('192.168.20.1'), { family: 'ipv4', addr: '192.168.20.1' });
    assert.deepEqual(parseAddress('2001:DB8:0:0:0:0:0:1'), { family: 'ipv6', addr: '2001:db8::1' });
    for (const bad of ['192.168.20', '192.168.20.256', '010.0.0.1', '0x7f.0.0.1', '1', 'fe80::1%eth0', '2001:db8::1::2', '', 'default']) assert.equal(parseAddress(bad), undefined, bad);
  });
  test('parseCidr', () => {
    assert.deepEqual(parseCidr('192.168.20.1/24'), { family: 'ipv4', addr: '192.168.20.1', len: 24, text: '192.168.20.1/24' });
    assert.deepEqual(parseCidr('2001:db8:0::1/64'), { family: 'ipv6', addr: '2001:db8::1', len: 64, text: '2001:db8::1/64' });
    assert.equal(parseCidr('10.0.0.1/32')?.len, 32);
    assert.equal(parseCidr('::/0')?.text, '::/0');
    for (const bad of ['10.0.0.1', '10.0.0.1/33', '2001:db8::1/129', '10.0.0.1/', '10.0.0.1/-1', '10.0.0.1/24/1', '10.0.0.300/24', 'fe80::1%eth0/64', '10.0.0.1/ 24'])
      assert.equal(parseCidr(bad), undefined, bad);
  });
  test('parsePrefix: default, bare addresses as host routes, prefixes', () => {
    assert.deepEqual(parsePrefix('default'), { family: 'ipv4', addr: '0.0.0.0', len: 0, text: '0.0.0.0/0' });
    assert.deepEqual(parsePrefix('default', 'ipv6'), { family: 'ipv6', addr: '::', len: 0, text: '::/0' });
    assert.equal(parsePrefix('169.254.1.1')?.text, '169.254.1.1/32');
    assert.equal(parsePrefix('2001:db8::1')?.text, '2001:db8::1/128');
    assert.equal(parsePrefix('10.0.0.0/8')?.text, '10.0.0.0/8');
    assert.equal(parsePrefix('all'), undefined);
    assert.equal(parsePrefix('10.0.0.0/40'), undefined);
  });
  test('networkOf and hasHostBits', () => {
    const c = (t: string): Cidr => parseCidr(t)!;
    assert.equal(networkOf(c('10.1.2.3/8')), '10.0.0.0');
    assert.equal(networkOf(c('2001:db8:1::1/48')), '2001:db8:1::');
    assert.equal(hasHostBits(c('10.1.2.3/8')), true);
    assert.equal(hasHostBits(c('10.0.0.0/8')), false);
    assert.equal(hasHostBits(c('10.0.0.1/32')), false);
    assert.equal(hasHostBits(c('2001:db8:1::1/48')), true);
    assert.equal(hasHostBits(c('2001:db8:1::/48')), false);
    assert.equal(hasHostBits(parsePrefix('default')!), false);
  });
  test('contains', () => {
    const net = parseCidr('192.168.20.0/24')!;
    assert.equal(contains(net, '192.168.20.1'), true);
    assert.equal(contains(net, '192.168.20.255'), true);
    assert.equal(contains(net, '192.168.21.1'), false);
    assert.equal(contains(net, '2001:db8::1'), false);
    assert.equal(contains(parseCidr('2001:db8::/64')!, '2001:db8::ff'), true);
    assert.equal(contains(parseCidr('2001:db8::/64')!, '192.168.20.1'), false);
    assert.equal(contains(parsePrefix('default')!, '8.8.8.8'), true);
    // An interface address's own CIDR (host bits set) contains its subnet.
    assert.equal(contains(parseCidr('10.0.0.1/24')!, '10.0.0.254'), true);
  });
  test('ipJsonDst and isLinkLocal6', () => {
    assert.equal(ipJsonDst(parsePrefix('default')!), 'default');
    assert.equal(ipJsonDst(parsePrefix('10.0.0.1')!), '10.0.0.1');
    assert.equal(ipJsonDst(parsePrefix('10.0.0.0/8')!), '10.0.0.0/8');
    assert.equal(isLinkLocal6('fe80::1'), true);
    assert.equal(isLinkLocal6('febf::1'), true);
    assert.equal(isLinkLocal6('fec0::1'), false);
    assert.equal(isLinkLocal6('169.254.1.1'), false);
    assert.equal(isLinkLocal6('FE80:0:0:0:0:0:0:1'), true);
    assert.equal(isLinkLocal6('fe8:0::1'), false, 'the first group is 0fe8');
    assert.equal(isLinkLocal6('fe80::zz'), false, 'not an address');
  });
});
