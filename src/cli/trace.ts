// cli/trace: `netlab trace FILE --from NODE --to ADDR`: one probe's path through netfilter.
import { Option, type Command } from 'commander';
import { loadLabCached } from '../load/cache.js';
import { labFileOf } from '../ops/target.js';
import { requireRoot } from '../privileges.js';
import { positiveInt, requireUp, stoppable, type CliDeps } from './common.js';

/** Adds `netlab trace` to the program; called once from cli/main.ts. */
export function register(program: Command, deps: CliDeps): void {
  const { runner, out, err } = deps;
  program
    .command('trace')
    .description('send one probe and show every packet of its connection through the lab: hooks, every matched rule, NAT before -> after, marks, routing, and a true ending')
    .argument('<file>', 'lab file or lab name (the lab must be up)')
    .requiredOption('--from <node>', 'node that sends the probe')
    .requiredOption('--to <address>', 'destination address')
    .addOption(new Option('--proto <proto>', 'probe protocol').choices(['icmp', 'tcp', 'udp']).default('icmp'))
    .option('--port <n>', 'destination port (tcp, udp)', positiveInt)
    .option('--json', 'print every packet, hop, rule, rewrite and routing answer as JSON')
    .action(async (file: string, o: { from: string; to: string; proto: 'icmp' | 'tcp' | 'udp'; port?: number; json?: boolean }) => {
      requireRoot('trace');
      const lab = await loadLabCached(labFileOf(file));
      requireUp(err, lab.name, file);
      const { trace, formatTrace } = await import('../engine/trace.js');
      const r = await stoppable(err, (signal) => trace(runner, lab, { from: o.from, to: o.to, proto: o.proto, ...(o.port ? { port: o.port } : {}), signal }));
      if (o.json) out(JSON.stringify(r, null, 2));
      else {
        out(`trace ${o.proto}${o.port ? `/${o.port}` : ''} ${o.from} -> ${r.to}: probe ${r.probe.ok ? 'answered' : 'not answered'}`);
        for (const l of formatTrace(r, lab)) out(l);
      }
    });
}
