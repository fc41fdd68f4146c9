// engine: planning a lab, load -> model -> observe -> plan -> render (planLab), and what every use
// case needs around it (name clashes, kernel features, proven ownership). The use cases themselves
// (up, check, status, impair; down, gc, trace) are in engine/, reporting through engine/hooks.ts.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { desiredState } from './model/desired.js';
import type { DesiredState, Lab, ObservedState } from './model/types.js';
import { observe, type ObserveOptions } from './observe/observe.js';
import { diff, type Plan } from './plan/diff.js';
import { render, type Step } from './render/render.js';
import type { CommandRunner } from './runner/runner.js';
import { dropClaims, readJournal, recordOwned } from './state/journal.js';
import type { Journal } from './model/journal.js';
import { HOST } from './model/types.js';
import type { NsId } from './model/ownership.js';
import { labFeatures } from './model/features.js';
import { bridgeGuards } from './model/hoststate.js';
import { summarize } from './plan/actions.js';
import { missingFeatureText, probeFeatures } from './doctor/probe.js';
import { CliError, EXIT } from './core/errors.js';

export class ConflictError extends CliError {
  constructor(message: string) {
    super(message, EXIT.applyFailed);
  }
}

export interface Planned {
  lab: Lab;
  desired: DesiredState;
  observed: ObservedState;
  journal: Journal | undefined;
  plan: Plan;
  steps: Step[];
  /** Conditions of the host the user should know about, and what netlab does about them. */
  notes: string[];
}

/** Refuses a lab whose name another lab file already uses while that lab is up. */
function checkNameClash(lab: Lab, journal: Journal | undefined): void {
  if (!journal) return;
  const file = resolve(lab.file);
  if (journal.file && journal.file !== file && existsSync(journal.file)) {
    throw new ConflictError(`lab name '${lab.name}' is already used by ${journal.file}, which is up\n  hint: give one of the labs another name, or take that one down first (netlab down ${lab.name})`);
  }
}

/** The machine lacks a kernel feature the lab needs: nothing was created. */
export class UnsupportedError extends CliError {
  constructor(message: string) {
    super(message, EXIT.unsupported, 'netlab doctor lists what this machine offers; a Vagrant VM (vagrant/) has a full kernel');
    this.name = 'UnsupportedError';
  }
}

/**
 * Probes the optional kernel features the lab uses (netem, VLAN, VRF, ...) and refuses the lab,
 * before anything is created, when one is missing. Labs that use none probe nothing.
 */
export async function requireFeatures(runner: CommandRunner, lab: Lab): Promise<void> {
  const needs = labFeatures(lab);
  if (!needs.length) return;
  const probes = await probeFeatures(
    runner,
    needs.map((n) => n.feature),
  );
  const missing = needs.filter((n) => !probes.get(n.feature)!.ok);
  if (!missing.length) return;
  throw new UnsupportedError(
    `lab ${lab.name} needs kernel features this machine lacks; nothing was changed\n${missing.map((m) => `  ${m.object}: ${missingFeatureText(m.feature, probes.get(m.feature)!)}`).join('\n')}`,
  );
}

export async function planLab(runner: CommandRunner, lab: Lab, opts: ObserveOptions = {}): Promise<Planned> {
  const journal = readJournal(lab.name);
  checkNameClash(lab, journal);
  const desired = desiredState(lab);
  const observed = await observe(runner, desired, journal, opts);
  // A Docker-like host drops bridged traffic in FORWARD: the lab's bridges get accept rules.
  const guards = bridgeGuards(desired, observed.hostFirewall);
  desired.hostIptables.unshift(...guards.rules);
  const plan = diff(desired, observed, journal);
  return { lab, desired, observed, journal, plan, steps: render(plan.actions, lab.name), notes: guards.notes };
}

/**
 * Before `up` changes anything: the objects proven the lab's (src/model/ownership.ts) are recorded
 * with their identities, among them those that carry its mark but are missing from its journal
 * (the journal was lost, or /run cleared while namespaces lived on), so that down removes them;
 * claims on objects that exist and are not the lab's are dropped, so that nothing ever acts on them.
 */
export function recordProven(journal: Journal, p: Planned): void {
  const ns = new Map<string, NsId>();
  const links = new Map<string, number>();
  const foreignNs: string[] = [];
  const foreignLinks: string[] = [];
  for (const [name, v] of p.plan.ownership.ns) {
    const id = p.observed.ids?.get(name);
    if (v.ours && id) ns.set(name, id);
    else if (!v.ours) foreignNs.push(name);
  }
  for (const [name, v] of p.plan.ownership.hostLinks) {
    const ix = p.observed.ns.get(HOST)?.links.get(name)?.ifindex;
    if (v.ours && ix !== undefined) links.set(name, ix);
    else if (!v.ours) foreignLinks.push(name);
  }
  dropClaims(journal, foreignNs, foreignLinks);
  recordOwned(journal, ns, links);
}

export function conflictText(plan: Plan): string {
  return plan.conflicts.map((c) => `${c.object}: ${c.message}\n  hint: ${c.hint}`).join('\n');
}

/**
 * The plan's one-line summary. With --trust-verified, namespaces taken as verified were not
 * read: "the kernel matches the lab file" would claim what nothing checked, so it says so.
 */
export function planText(p: Planned): string {
  const n = p.observed.trusted?.length ?? 0;
  if (!n) return summarize(p.plan.actions);
  const what = p.plan.actions.length ? summarize(p.plan.actions) : 'no changes in what was read';
  return `${what} (${n} namespace${n === 1 ? '' : 's'} verified before not read: --trust-verified)`;
}
