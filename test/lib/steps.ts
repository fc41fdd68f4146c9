// `netlab steps` over the guided labs in labs/, for the end-to-end tests: which labs have steps,
// which need a full kernel (test/e2e/full-kernel-steps.test.ts runs those, in the Vagrant VM), and
// one run of a lab's steps with --json, every step met, then down.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parse } from 'yaml';
import { loadLabFile } from '../../src/load/lab.js';
import { labFeatures, type Feature } from '../../src/model/features.js';
import { LABS, netlab } from './host.js';

type Check = Record<string, { why?: string; expect?: string }>;
export interface LabFile {
  name: string;
  checks?: Check[];
  steps?: { title: string; run?: unknown[]; variant?: string; expect?: Check[] }[];
}

/** Features the project's CI machine lacks: labs needing one run in the full-kernel VM. */
const FULL_KERNEL: ReadonlySet<Feature> = new Set(['netem', 'tbf', 'htb', 'vlan', 'vrf', 'dummy', 'bond', 'wireguard']);

export interface GuidedLab {
  f: string;
  file: string;
  name: string;
  data: LabFile;
  /** The full-kernel features the lab needs (none: it runs on the CI machine). */
  fullKernel: Feature[];
}

export function labFiles(): GuidedLab[] {
  return readdirSync(LABS)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const file = join(LABS, f);
      const data = parse(readFileSync(file, 'utf8')) as LabFile;
      const fullKernel = labFeatures(loadLabFile(file))
        .map((n) => n.feature)
        .filter((x) => FULL_KERNEL.has(x));
      return { f, file, name: data.name, data, fullKernel };
    });
}

/** What `netlab steps --json` prints (the parts the tests read). */
interface StepsJson {
  met: boolean;
  steps: {
    step: number;
    title: string;
    met: boolean;
    commands: { node: string; command: string; met: boolean; exitCode: number; output?: string }[];
    checks: { label: string; why?: string; expect: string; seen: string; met: boolean; output?: string }[];
  }[];
}

/** Every unmet command and check, with what it saw, for an assertion message. */
function unmet(doc: StepsJson): string {
  const out: string[] = [];
  for (const s of doc.steps) {
    for (const c of s.commands.filter((c) => !c.met)) out.push(`step ${s.step} (${s.title}): [${c.node}]$ ${c.command} exited ${c.exitCode}\n${c.output ?? ''}`);
    for (const c of s.checks.filter((c) => !c.met)) out.push(`step ${s.step} (${s.title}): ${c.label}: expected ${c.expect}, saw ${c.seen} (${c.why ?? 'no why'})\n${c.output ?? ''}`);
  }
  return out.join('\n');
}

export function skip(t: TestContext, name: string, reason: string): void {
  t.skip(reason);
  console.log(`# SKIP ${name}: ${reason}`);
}

/**
 * `netlab steps FILE --json`: every step met (exit 0), then `netlab down`. A lab this kernel
 * cannot run (exit 6, nothing changed) is skipped with the missing features, unless
 * NETLAB_REQUIRE_FULL_KERNEL=1. Returns false when skipped.
 */
export function runSteps(t: TestContext, lab: GuidedLab, env: Record<string, string>): boolean {
  const r = netlab(['steps', lab.file, '--json'], env);
  if (r.code === 6 && process.env.NETLAB_REQUIRE_FULL_KERNEL !== '1') {
    assert.match(r.stderr, /nothing was changed/);
    const missing = [...r.stderr.matchAll(/this kernel lacks (.+?) \(module /g)].map((m) => m[1]).join(', ');
    skip(t, lab.name, `this kernel lacks ${missing}: the lab's steps run in the full-kernel VM (vagrant/ci)`);
    return false;
  }
  try {
    let doc: StepsJson;
    try {
      doc = JSON.parse(r.stdout) as StepsJson;
    } catch {
      assert.fail(`netlab steps printed no JSON (exit ${r.code}):\n${r.stdout}${r.stderr}`);
    }
    assert.equal(doc.steps.length, lab.data.steps!.length, 'every step ran');
    assert.equal(r.code, 0, `not every step was met:\n${unmet(doc)}${r.stderr}`);
    assert.ok(doc.met && doc.steps.every((s) => s.met), unmet(doc));
  } finally {
    const down = netlab(['down', lab.name], env);
    assert.equal(down.code, 0, `down failed:\n${down.stdout}${down.stderr}`);
  }
  return true;
}
