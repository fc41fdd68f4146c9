// cli/trace: `netlab trace FILE --from NODE --to ADDR`: one probe's path through netfilter. A lab
// across hosts is traced on every host at once (engine/hosts.ts), each host running the hidden
// phases of this same command on its part.
import { Option, type Command } from 'commander';
import { PART_ENV } from '../state/hosts.js';
import { requireRoot } from '../privileges.js';
import { labAcross } from './hosts.js';
import { positiveInt, requireUp, stoppable, type CliDeps } from './common.js';

interface Opts {
  from: string;
  to: string;
  proto: 'icmp' | 'tcp' | 'udp';
  port?: number;
  json?: boolean;
  arm?: string;
  probe?: boolean;
  collect?: string;
  seed?: string;
  disarm?: string;
}

/** Adds `netlab trace` to the program; called once from cli/main.ts. */
export function register(program: Command, deps: CliDeps): void {
  const { runner, out, err } = deps;
  const hidden = (flags: string, what: string) => new Option(flags, what).hideHelp();
  program
    .command('trace')
    .description(
      'send one probe and show every packet of its connection through the lab: hooks, every matched rule, NAT before -> after, marks, routing, VXLAN encapsulation, and a true ending; a lab across hosts is traced on every host at once',
    )
    .argument('<file>', 'lab file or lab name (the lab must be up)')
    .requiredOption('--from <node>', 'node that sends the probe')
    .requiredOption('--to <address>', 'destination address')
    .addOption(new Option('--proto <proto>', 'probe protocol').choices(['icmp', 'tcp', 'udp']).default('icmp'))
    .option('--port <n>', 'destination port (tcp, udp)', positiveInt)
    .option('--json', 'print every packet, hop, rule, rewrite, tunnel and routing answer as JSON')
    // The phases a coordinator runs on each host's part of a lab across hosts (JSON out).
    .addOption(hidden('--arm <id>', 'turn tracing on (session id)'))
    .addOption(hidden('--probe', 'send the probe'))
    .addOption(hidden('--collect <id>', 'turn tracing off and print the segments'))
    .addOption(hidden('--seed <base64>', "the source host's keys of the connection"))
    .addOption(hidden('--disarm <id>', 'turn tracing off'))
    .action(async (file: string, o: Opts) => {
      requireRoot('trace');
      const lab = await labAcross(file, undefined);
      const opts = { from: o.from, to: o.to, proto: o.proto, ...(o.port ? { port: o.port } : {}) };
      if (o.arm || o.probe || o.collect || o.disarm) {
        requireUp(err, lab.name, file);
        const { tracePart } = await import('../engine/trace.js');
        const phase = o.arm
          ? { arm: o.arm }
          : o.probe
            ? { probe: true as const }
            : o.collect
              ? { collect: o.collect, ...(o.seed ? { seed: JSON.parse(Buffer.from(o.seed, 'base64url').toString('utf8')) } : {}) }
              : { disarm: o.disarm! };
        out(JSON.stringify(await stoppable(err, (signal) => tracePart(runner, lab, { ...opts, signal }, phase))));
        return;
      }
      const across = !!lab.hosts && !process.env[PART_ENV];
      if (!across) requireUp(err, lab.name, file);
      const { trace, formatTrace } = await import('../engine/trace.js');
      const traceHosts = across ? (await import('../engine/hosts.js')).traceHosts : undefined;
      const r = await stoppable(err, (signal) => (traceHosts ? traceHosts(runner, lab, { ...opts, signal }) : trace(runner, lab, { ...opts, signal })));
      if (o.json) out(JSON.stringify(r, null, 2));
      else {
        out(
          `trace ${o.proto}${o.port ? `/${o.port}` : ''} ${o.from} -> ${r.to}${across ? ` across hosts ${[...lab.hosts!.keys()].join(', ')}` : ''}: probe ${r.probe.ok ? 'answered' : 'not answered'}`,
        );
        for (const l of formatTrace(r, lab)) out(l);
      }
    });
}
