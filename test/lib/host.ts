// Helpers for end-to-end tests on the real kernel: run the CLI, snapshot the root namespace.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'dist/bundle/netlab.js');
export const LABS = join(ROOT, 'labs');

export const isRoot = process.getuid?.() === 0;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A private state directory, so tests never see the journals of labs a user has up. */
export function stateDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'netlab-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function netlab(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function netlabAsync(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}), stdio: ['pipe', 'pipe', 'pipe'] });
}

export function tryRun(cmd: string, args: string[]): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

export function ping(ns: string, addr: string, count = 1): boolean {
  // A short retry covers the first packets a fresh bridge port may drop (ARP, port state).
  for (let i = 0; i < 3; i++) {
    if (tryRun('ip', ['netns', 'exec', ns, 'ping', '-c', String(count), '-W', '1', '-i', '0.2', addr]).code === 0) return true;
  }
  return false;
}

export function netnsList(): string[] {
  const out = sh('ip', ['-j', 'netns', 'list']).trim();
  return out ? (JSON.parse(out) as { name: string }[]).map((n) => n.name) : [];
}

export function hostLinks(): string[] {
  return (JSON.parse(sh('ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname);
}

/** Removes namespaces and host links by exact name (test cleanup after a failure). */
export function removeExact(namespaces: string[], links: string[] = []): void {
  for (const n of namespaces) if (netnsList().includes(n)) tryRun('ip', ['netns', 'del', n]);
  for (const l of links) if (hostLinks().includes(l)) tryRun('ip', ['link', 'del', 'dev', l]);
}

export async function waitFor(cond: () => boolean, ms = 5000, every = 50): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, every));
  }
  return cond();
}

/** Unique, short names (interface names have 15 bytes). */
export function uid(): string {
  return `t${(process.pid % 10000).toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}

/** Writes a lab file into a test's state directory; returns its path. */
export function labFile(dir: string, name: string, body: string): string {
  const f = join(dir, `${name}.yaml`);
  writeFileSync(f, body);
  return f;
}

/** Namespaces and host links whose names start with a test's unique prefix. */
export function leftovers(prefix: string): string[] {
  return [...netnsList().filter((n) => n.startsWith(prefix)), ...hostLinks().filter((l) => l.startsWith(prefix))];
}
