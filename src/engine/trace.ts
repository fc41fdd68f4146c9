// engine/trace: `netlab trace`, one probe's connection through the lab (src/trace/ does the work).
// On a host's part of a lab across hosts, the phases run one netlab run each (hidden options of
// `trace`), so the coordinator (engine/hosts.ts) can arm every host, probe on one, then collect.
import { rmSync } from 'node:fs';
import type { Lab } from '../model/types.js';
import type { CommandRunner } from '../runner/runner.js';
import { arm, disarm, enrich, monitored, probe, readSession, sessionDir, TraceError, traceSpec, type Seed, type TracedSegment } from '../trace/trace.js';
import type { TraceSpec } from '../trace/parse.js';

export { trace, formatTrace, collectStale, sessionDir, type StaleTrace } from '../trace/trace.js';

export type PartPhase = { arm: string } | { probe: true } | { collect: string; seed?: Seed } | { disarm: string };

/** What the collect phase of a host's part answers: its segments of the connection, and the seed for the other hosts. */
export interface PartSegments {
  segments: TracedSegment[];
  seed: Seed;
}

/** One phase of a trace on this host's part (the coordinator runs them in order on every host). */
export async function tracePart(runner: CommandRunner, lab: Lab, o: { from: string; to: string; proto: TraceSpec['proto']; port?: number; signal?: AbortSignal }, phase: PartPhase): Promise<object> {
  const spec = traceSpec(o);
  if ('probe' in phase) {
    if (!lab.nodes.has(o.from)) throw new TraceError(`no node named '${o.from}' in this host's part of lab ${lab.name}`);
    return probe(runner, o.from, spec);
  }
  const dir = sessionDir(lab.name, 'arm' in phase ? phase.arm : 'collect' in phase ? phase.collect : phase.disarm);
  if ('arm' in phase) {
    try {
      await arm(runner, lab, spec, dir, o.signal); // undoes its own work when it fails
      return {};
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }
  const a = readSession(dir);
  try {
    if ('disarm' in phase) {
      if (a) await disarm(runner, a);
      return {};
    }
    if (!a) throw new TraceError(`no trace session ${phase.collect} of lab ${lab.name} on this host (it was never armed, or was collected)`);
    const namespaces = a.tables.map((t) => t.ns);
    await disarm(runner, a);
    const from = lab.nodes.has(o.from) ? { node: o.from } : { seed: phase.seed ?? { keys: [], addrs: [], firstSrc: '' } };
    const r: PartSegments = await enrich(runner, lab, monitored(a, namespaces), spec, from);
    return r;
  } finally {
    if (!process.env.NETLAB_TRACE_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}
