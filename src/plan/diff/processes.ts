// Processes: (re)start what is not running as declared, adopt what runs unrecorded, stop what the
// lab no longer has.
import { processKey } from '../../model/processes.js';
import type { Ctx } from './context.js';

export function diffProcesses(c: Ctx): void {
  const { desired, observed, journal, fresh } = c;
  const jp = journal?.processes ?? {};
  const wanted = new Set<string>();
  for (const p of desired.processes) {
    const key = processKey(p);
    wanted.add(key);
    const rec = jp[key];
    const found = observed.processes.get(key);
    if (!rec && found?.start && !fresh.has(p.node)) {
      c.add({ kind: 'process.adopt', ns: p.node, key, process: p, pid: found.pid, start: found.start, object: `process ${key}`, reason: 'running, but not in the journal: adopted' });
      continue;
    }
    const alive = !!rec && !fresh.has(p.node) && (found?.alive ?? false);
    const same = !!rec && JSON.stringify(rec.argv) === JSON.stringify(p.argv);
    if (alive && same) continue;
    if (alive) c.add({ kind: 'process.stop', ns: p.node, key, pid: rec!.pid, object: `process ${key}`, reason: 'its command changed', replace: true });
    c.add({
      kind: 'process.start',
      ns: p.node,
      process: p,
      object: `process ${key}`,
      reason: !rec ? 'not running' : alive ? 'its command changed' : 'it exited: restart',
      ...(alive ? { replace: true } : {}),
    });
  }
  for (const [key, rec] of Object.entries(jp)) {
    if (!wanted.has(key) && observed.processes.get(key)?.alive) c.add({ kind: 'process.stop', ns: rec.ns, key, pid: rec.pid, object: `process ${key}`, reason: 'no longer in the lab file' });
  }
}
