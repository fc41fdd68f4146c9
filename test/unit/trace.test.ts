// netlab trace, pure parts: the trace tables, parsing `nft -a monitor trace` captured from the
// kernel into packets, following a connection through NAT, endings and text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { traceTable } from '../../src/trace/parse.js';

test('the trace table sets nftrace first and witnesses the other hooks last', () => {
  const t = traceTable({ to: '10.0.2.2', family: 'ipv4', proto: 'tcp', port: 80 });
  assert.match(t, /^table inet netlab_trace \{/);
  assert.match(t, /hook prerouting priority -350; meta nfproto ipv4 meta l4proto \{ tcp, icmp \} meta nftrace set 1;/);
  assert.match(t, /chain local_in \{ type filter hook input priority 350; \}/);
  assert.doesNotMatch(t, /table bridge/);
  assert.match(traceTable({ to: '2001:db8::2', family: 'ipv6', proto: 'icmp' }, 'x', { bridge: true, ifaces: ['br1', 'tap1'] }), /table bridge x[\s\S]*iifname \{ "br1", "tap1" \} meta nfproto ipv6 meta l4proto ipv6-icmp/);
});
