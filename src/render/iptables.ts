// iptables-restore payloads (pure).
import type { Family, HostRule } from '../model/types.js';

export function restoreTool(family: Family): string {
  return family === 'ipv4' ? 'iptables-restore' : 'ip6tables-restore';
}

export function saveTool(family: Family): string {
  return family === 'ipv4' ? 'iptables-save' : 'ip6tables-save';
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
