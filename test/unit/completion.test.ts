// Shell completion: the script netlab prints, run by a real bash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../bundle/netlab.js', import.meta.url));
const script = (shell: string) => spawnSync(process.execPath, [CLI, 'completion', shell], { encoding: 'utf8' }).stdout;

/** What bash completes for the words typed so far (the last one is being completed). */
function complete(words: string[], cwd: string, env: Record<string, string> = {}): string[] {
  const bash = `source /dev/stdin <<'NETLAB'\n${script('bash')}\nNETLAB\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _netlab; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', bash], { encoding: 'utf8', cwd, env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).sort();
}

test('bash completes commands, their options, labs that are up and lab files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netlab-complete-'));
  try {
    mkdirSync(join(dir, 'state', 'labs'), { recursive: true });
    writeFileSync(join(dir, 'state', 'labs', 'classroom.json'), '{}');
    writeFileSync(join(dir, 'bridge.yaml'), '');
    writeFileSync(join(dir, 'notes.txt'), '');
    assert.deepEqual(complete(['netlab', 'u'], dir), ['up']);
    assert.deepEqual(complete(['netlab', 'g'], dir), ['gc', 'generate', 'graph']);
    assert.deepEqual(complete(['netlab', 'up', '--dry'], dir), ['--dry-run']);
    assert.deepEqual(complete(['netlab', 'graph', '-'], dir), ['--format', '--help', '--output', '-f', '-o']);
    assert.deepEqual(complete(['netlab', 'down', ''], dir, { NETLAB_STATE_DIR: join(dir, 'state') }), ['bridge.yaml', 'classroom', 'state']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('zsh gets the same function through bashcompinit', () => {
  const zsh = script('zsh');
  assert.match(zsh, /^autoload -U \+X bashcompinit && bashcompinit$/m);
  assert.match(zsh, /^complete -o filenames -F _netlab netlab$/m);
});
