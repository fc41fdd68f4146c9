// engine/status: the labs that are up, from their journals, and whether the kernel still matches
// each one's file (a full plan of it: the number of changes up would make).
import { loadLabCached } from '../load/cache.js';
import { LabError } from '../load/problems.js';
import type { Journal } from '../model/journal.js';
import type { CommandRunner } from '../runner/runner.js';
import { type JournalError, readJournal, scanJournals } from '../state/journal.js';
import { planLab } from '../engine.js';

export interface LabStatus {
  lab: string;
  file: string;
  status: Journal['status'];
  updated: string;
  nodes: string[];
  hostLinks: string[];
  /** Changes up would make; null when the lab file cannot be planned now (`note` says why). */
  drift: number | null;
  note?: string;
}

/** The status of one lab (by name) or of every lab with a journal; damaged journals apart. */
export async function status(runner: CommandRunner, lab?: string): Promise<{ labs: LabStatus[]; damaged: JournalError[] }> {
  const scan = lab !== undefined ? { journals: [readJournal(lab)].filter((j) => !!j), damaged: [] } : scanJournals();
  const labs: LabStatus[] = [];
  for (const j of scan.journals) {
    let drift: number | null = null;
    let note: string | undefined;
    try {
      const p = await planLab(runner, await loadLabCached(j.file));
      drift = p.plan.actions.length;
    } catch (e) {
      note = e instanceof LabError ? `the lab file is invalid now (${e.problems.length} problem(s))` : (e as Error).message.split('\n')[0];
    }
    labs.push({ lab: j.lab, file: j.file, status: j.status, updated: j.updated, nodes: j.namespaces, hostLinks: j.hostLinks, drift, ...(note ? { note } : {}) });
  }
  return { labs, damaged: scan.damaged };
}
