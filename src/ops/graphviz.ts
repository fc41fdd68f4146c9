// ops/graphviz: `netlab graph` end to end: load the lab, draw it, and for svg/png pipe the DOT text
// through Graphviz's dot.
import { writeFileSync } from 'node:fs';
import { CliError, EXIT } from '../core/errors.js';
import { loadLabFile } from '../load/lab.js';
import type { CommandRunner } from '../runner/runner.js';
import { findProgram, fsReason } from './target.js';
import { GRAPH_FORMATS, formatFromFileName, graph, type GraphFormat } from './graph.js';

export const GRAPHVIZ_HINT = "install Graphviz: Debian/Ubuntu: apt-get install graphviz; Fedora: dnf install graphviz. '--format dot' (or mermaid) works without it";

export interface GraphOptions {
  format?: GraphFormat;
  output?: string;
}

/** Runs dot -T<format> on the DOT text; resolves to its output. */
export async function renderDot(runner: CommandRunner, dotPath: string, text: string, format: 'svg' | 'png' | 'pdf'): Promise<Buffer> {
  const r = await runner.runBytes([dotPath, `-T${format}`], text);
  if (r.startError) throw new CliError(`cannot run Graphviz's dot (${dotPath}): ${r.startError.message}`, EXIT.unsupported, GRAPHVIZ_HINT);
  if (r.exitCode === 0) return r.stdout;
  throw new CliError(`Graphviz's dot failed (${r.signal ?? `exit ${r.exitCode}`}) rendering ${format}: ${r.stderr.trim()}`, EXIT.error, "'--format dot' prints the text it was given");
}

/** The bytes `netlab graph` writes, and where. */
export async function graphCommand(runner: CommandRunner, file: string, o: GraphOptions, stdoutIsTty = !!process.stdout.isTTY): Promise<{ data: string | Buffer; output?: string }> {
  const named = formatFromFileName(o.output);
  // A file name whose extension names no format would get Mermaid text under a misleading name.
  if (!o.format && !named && o.output && /\.[A-Za-z0-9]+$/.test(o.output)) {
    throw new CliError(`cannot tell the format from the file name ${o.output}`, EXIT.error, `name it .mmd, .dot, .svg, .png or .pdf, or give --format (${GRAPH_FORMATS.join(', ')})`);
  }
  const format = o.format ?? named ?? 'mermaid';
  const lab = loadLabFile(file);
  if (format === 'mermaid' || format === 'dot') return { data: graph(lab, format), ...(o.output ? { output: o.output } : {}) };
  const dot = findProgram('dot');
  if ('error' in dot) throw new CliError(`--format ${format} needs Graphviz's 'dot', which is not installed`, EXIT.unsupported, GRAPHVIZ_HINT);
  if (format !== 'svg' && !o.output && stdoutIsTty) throw new CliError(`a ${format} is binary and standard output is a terminal`, EXIT.error, `write it to a file: -o ${lab.name}.${format}`);
  return { data: await renderDot(runner, dot.path, graph(lab, 'dot'), format), ...(o.output ? { output: o.output } : {}) };
}

export function writeGraph(r: { data: string | Buffer; output?: string }): void {
  if (!r.output || r.output === '-') {
    process.stdout.write(r.data);
    return;
  }
  try {
    writeFileSync(r.output, r.data);
  } catch (e) {
    throw new CliError(`cannot write ${r.output}: ${fsReason(e)}`, EXIT.error, 'give a file in a directory you can write to');
  }
}
