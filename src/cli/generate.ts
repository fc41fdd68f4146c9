// cli/generate: `netlab generate TOPOLOGY [N]`: write a lab file of N namespaces.
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { Topology } from '../generate.js';
import { positiveInt, type CliDeps } from './common.js';

/** Adds `netlab generate` to the program; called once from cli/main.ts. */
export function register(program: Command, _deps: CliDeps): void {
  program
    .command('generate')
    .description('write a lab file with N namespaces: single (one bridge), linear or ring (routers), tree (of bridges)')
    .addArgument(new Command().createArgument('<topology>', 'single | linear | ring | tree').choices(['single', 'linear', 'ring', 'tree']))
    .argument('[n]', 'number of nodes (single, linear, ring)', positiveInt)
    .option('--depth <d>', 'tree depth', positiveInt, 2)
    .option('--fanout <f>', 'tree fanout', positiveInt, 2)
    .option('--name <name>', 'lab name (default: <topology>-<n>)')
    .option('--prefix <p>', 'prefix for node, bridge and port names (to run labs side by side)', '')
    .addOption(new Option('-o, --output <file>', 'write to a file instead of standard output'))
    .action(async (topology: Topology, n: number | undefined, o: { depth: number; fanout: number; name?: string; prefix: string; output?: string }) => {
      const { generate, GenerateError } = await import('../generate.js');
      if (topology !== 'tree' && n === undefined) throw new GenerateError(`generate ${topology} needs a number of nodes, e.g. netlab generate ${topology} 4`);
      const text = generate({ topology, n: n ?? 0, depth: o.depth, fanout: o.fanout, ...(o.name ? { name: o.name } : {}), prefix: o.prefix, output: o.output });
      if (o.output) writeFileSync(o.output, text);
      else process.stdout.write(text);
    });
}
