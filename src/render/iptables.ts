// iptables-restore payloads (pure).
import { sha256 } from '../hash.js';
import type { ChainSpec, Family, HostRule, IptTable } from '../model/types.js';
import { BUILTIN_CHAINS } from '../load/syntax.js';

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

export function restoreTool(family: Family): string {
  return family === 'ipv4' ? 'iptables-restore' : 'ip6tables-restore';
}

export function saveTool(family: Family): string {
  return family === 'ipv4' ? 'iptables-save' : 'ip6tables-save';
}

export function hostComment(lab: string): string {
  return `netlab:${lab}`;
}

/** Payload for `iptables-restore --noflush` adding (at a position, or appending) or deleting tagged rules in the host. */
export function hostRulesPayload(rules: (HostRule & { at?: number })[], op: '-A' | '-D'): string {
  const byTable = new Map<string, (HostRule & { at?: number })[]>();
  for (const r of rules) byTable.set(r.table, [...(byTable.get(r.table) ?? []), r]);
  const lines: string[] = [];
  for (const [table, rs] of byTable) {
    lines.push(`*${table}`);
    for (const r of rs) lines.push(op === '-A' && r.at !== undefined ? `-I ${r.chain} ${r.at} ${r.spec}` : `${op} ${r.chain} ${r.spec}`);
    lines.push('COMMIT');
  }
  lines.push('');
  return lines.join('\n');
}

/**
 * Normalizes iptables-save output for comparison: drops comments, counters and table headers'
 * dates so that two saves of the same rules compare equal.
 */
export function normalizeSave(text: string): Map<string, string> {
  const tables = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      cur = [];
      tables.set(line.slice(1), cur);
    } else if (line === 'COMMIT') cur = undefined;
    else if (cur) cur.push(line.replace(/ \[\d+:\d+\]$/, '').replace(/^\[\d+:\d+\] /, ''));
  }
  return new Map([...tables].map(([t, ls]) => [t, ls.join('\n')]));
}
