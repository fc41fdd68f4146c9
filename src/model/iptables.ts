// model/iptables: the lab's iptables vocabulary (pure): built-in chains, the tag on host rules,
// and the whole-table payload a lab namespace's table is compared and restored by.
import { sha256 } from '../hash.js';
import type { ChainSpec, IptTable } from './types.js';

export const BUILTIN_CHAINS: Record<string, string[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

export function hostComment(lab: string): string {
  return `netlab:${lab}`;
}

export function hashText(text: string): string {
  return sha256([text], 16);
}

/** A whole-table payload for a lab-owned namespace: replaces the table atomically. */
export function tablePayload(table: IptTable, chains: ChainSpec[]): string {
  const lines = [`*${table}`];
  const declared = new Map(chains.map((c) => [c.name, c]));
  for (const b of BUILTIN_CHAINS[table]!) lines.push(`:${b} ${declared.get(b)?.policy ?? 'ACCEPT'} [0:0]`);
  for (const c of chains) if (!c.builtin) lines.push(`:${c.name} - [0:0]`);
  for (const c of chains) for (const r of c.rules) lines.push(`-A ${c.name} ${r.text}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** The empty table, restored when a lab stops declaring a table it declared before. */
export function emptyTablePayload(table: IptTable): string {
  return tablePayload(table, []);
}
