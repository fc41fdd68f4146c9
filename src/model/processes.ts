// A lab process's vocabulary (pure): its key, its log file, the command that starts it.
import { join } from 'node:path';
import { logDir } from '../core/state.js';
import { shellQuote } from '../core/shell.js';
import type { ProcessSpec } from './types.js';

export function processKey(p: { node?: string; ns?: string; name: string }): string {
  return `${p.node ?? p.ns}/${p.name}`;
}

export function logFile(lab: string, node: string, name: string): string {
  return join(logDir(lab), `${node}.${name}.log`);
}

export function startArgv(p: ProcessSpec): string[] {
  return ['ip', 'netns', 'exec', p.node, ...p.argv];
}

export function startText(lab: string, p: ProcessSpec): string {
  return `${shellQuote(startArgv(p))} >>${logFile(lab, p.node, p.name)} 2>&1 &`;
}
