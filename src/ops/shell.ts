// ops/shell: an interactive shell in a node's namespace whose prompt names the lab and the node.
// bash: --rcfile with a temporary file that reads the usual startup files, then sets PS1; zsh:
// a temporary ZDOTDIR whose files read the user's, then set PROMPT; any other shell: PS1 in the
// environment (sh, dash, ksh read it). NETLAB_LAB and NETLAB_NODE are exported in every case.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { CommandRunner } from '../runner/runner.js';
import { findProgram, resolveTarget, type Target } from './target.js';
import { runEntered, targetEnv } from './exec.js';
import { requireRoot } from '../privileges.js';
import { shellWord } from '../core/shell.js';

/** The prompt's tag; names are restricted, but nothing in it may act as a prompt escape. */
export function promptTag(lab: string, node: string): string {
  return `[${lab}:${node}]`.replace(/[^A-Za-z0-9_.:@[\]-]/g, '_');
}

/** Which shell: $SHELL when it is a usable shell, else bash, else sh. */
export function pickShell(env: NodeJS.ProcessEnv = process.env, find = findProgram): string {
  const s = env.SHELL;
  if (s && !/(nologin|false)$/.test(s)) {
    const f = find(s, env.PATH);
    if ('path' in f && !('error' in f)) return f.path;
  }
  const bash = find('bash', env.PATH);
  if ('path' in bash && !('error' in bash)) return bash.path;
  return '/bin/sh';
}

export interface ShellLaunch {
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** Files to write before starting (path -> content). */
  files: Map<string, string>;
}

/** How to start `shell` so that its prompt shows the tag. Pure, given the temporary directory. */
export function shellLaunch(shell: string, tag: string, env: NodeJS.ProcessEnv, tmp: string): ShellLaunch {
  const name = basename(shell);
  const files = new Map<string, string>();
  if (name === 'bash') {
    const rc = join(tmp, 'bashrc');
    files.set(
      rc,
      [
        '# netlab shell: what bash reads for an interactive shell, then the prompt.',
        '[ -r /etc/bash.bashrc ] && . /etc/bash.bashrc',
        '[ -r ~/.bashrc ] && . ~/.bashrc',
        `PS1=${shellWord(`${tag} \\w\\$ `)}`,
        'export NETLAB_LAB NETLAB_NODE',
        `command rm -rf -- ${shellWord(tmp)}`,
        '',
      ].join('\n'),
    );
    return { argv: [shell, '--rcfile', rc], env, files };
  }
  if (name === 'zsh') {
    const orig = env.ZDOTDIR ?? env.HOME ?? '';
    const src = (f: string) => `[ -r ${shellWord(join(orig, f))} ] && . ${shellWord(join(orig, f))}`;
    files.set(join(tmp, '.zshenv'), `${src('.zshenv')}\n`);
    files.set(
      join(tmp, '.zshrc'),
      [
        src('.zshrc'),
        `PROMPT=${shellWord(`${tag} %~%# `)}`,
        'export NETLAB_LAB NETLAB_NODE',
        env.ZDOTDIR ? `ZDOTDIR=${shellWord(env.ZDOTDIR)}` : 'unset ZDOTDIR',
        `command rm -rf -- ${shellWord(tmp)}`,
        '',
      ].join('\n'),
    );
    return { argv: [shell], env: { ...env, ZDOTDIR: tmp }, files };
  }
  return { argv: [shell], env: { ...env, PS1: `${tag} $ ` }, files };
}

/** `netlab shell LAB NODE`: the shell's exit status. */
export async function shellIn(runner: CommandRunner, labArg: string, node: string): Promise<number> {
  requireRoot('shell');
  const t: Target = await resolveTarget(runner, labArg, node);
  const tmp = mkdtempSync(join(tmpdir(), 'netlab-shell-'));
  try {
    const l = shellLaunch(pickShell(), promptTag(t.lab, t.node), targetEnv(t), tmp);
    for (const [f, text] of l.files) writeFileSync(f, text, { mode: 0o600 });
    return await runEntered(runner, t, l.argv, { env: l.env });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
