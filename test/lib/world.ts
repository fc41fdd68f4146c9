// A private world for end-to-end tests: a network namespace and a mount namespace of their own,
// with a private /run/netns and /sys, bound to files so that many commands can enter the same world.
// It is what netlab sees in a privileged container or a CI pod (not the initial network namespace),
// and whatever a test builds in it (a Docker-like firewall, a user bridge, host sysctls) never
// touches the real host. destroy() stops every process in it and removes it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, type CliResult } from './host.js';
import { snapshot, type DirId, type Snapshot } from './snapshot.js';

function must(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

export class World {
  private constructor(readonly dir: string) {}

  /** A new world: lo up, an empty /run/netns, /sys showing the world's own devices. */
  static create(): World {
    const dir = mkdtempSync(join(tmpdir(), 'netlab-world-'));
    // unshare --mount=FILE needs the file's mount to be private: bind the directory onto itself.
    must('mount', ['--bind', dir, dir]);
    must('mount', ['--make-private', dir]);
    writeFileSync(join(dir, 'net'), '');
    writeFileSync(join(dir, 'mnt'), '');
    const w = new World(dir);
    const setup = 'mkdir -p /run/netns && mount -t tmpfs netlab-world /run/netns && mount -t sysfs sysfs /sys && ip link set lo up';
    const r = spawnSync('unshare', [`--net=${join(dir, 'net')}`, `--mount=${join(dir, 'mnt')}`, '--propagation', 'private', 'sh', '-c', setup], { encoding: 'utf8' });
    if (r.status !== 0) {
      w.destroy();
      throw new Error(`cannot make a private world: ${r.stderr}`);
    }
    return w;
  }

  /** A state directory inside the world's directory (netlab's journals and locks for this world). */
  get stateDir(): string {
    return join(this.dir, 'state');
  }

  /** The argv that runs a command inside the world (for a command line built elsewhere, e.g. tmux). */
  argv(cmd: string, args: string[] = []): string[] {
    return ['nsenter', `--net=${join(this.dir, 'net')}`, `--mount=${join(this.dir, 'mnt')}`, '--', cmd, ...args];
  }

  /** Runs a command inside the world. */
  run(cmd: string, args: string[], opts: { input?: string; env?: Record<string, string>; timeout?: number } = {}): CliResult {
    const [nsenter, ...rest] = this.argv(cmd, args);
    const r = spawnSync(nsenter!, rest, {
      encoding: 'utf8',
      env: { ...process.env, NETLAB_STATE_DIR: this.stateDir, ...opts.env },
      timeout: opts.timeout ?? 120_000,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** A shell script inside the world. */
  sh(script: string, env: Record<string, string> = {}): CliResult {
    return this.run('sh', ['-c', script], { env });
  }

  /** The netlab CLI inside the world, with the world's own state directory. */
  netlab(args: string[], env: Record<string, string> = {}): CliResult {
    return this.run(process.execPath, [CLI, ...args], { env });
  }

  /** The identity of the world's own /run/netns: the processes that see it are the world's. */
  netnsDir(): DirId {
    const r = this.run('stat', ['-c', '%d %i', '/run/netns']);
    const [dev, ino] = r.stdout.trim().split(' ').map(Number);
    if (r.code !== 0 || !dev || !ino) throw new Error(`cannot stat the world's /run/netns: ${r.stderr}`);
    return { dev, ino };
  }

  /** The world's own namespace as text (links, routes, iptables, sysctls, namespaces, lab processes), as snapshot() takes the host's. */
  snapshot(opts: { everySysctl?: boolean } = {}): Snapshot {
    return snapshot((cmd, args) => this.run(cmd, args), this.netnsDir(), opts);
  }

  /**
   * Pids of the processes inside the world: in its mount namespace, or in one made from it (`ip
   * netns exec` makes one per command), so seeing the world's /run/netns, whatever network
   * namespace they are in, named or not.
   */
  pids(): number[] {
    const mnt = `mnt:[${statSync(join(this.dir, 'mnt')).ino}]`;
    let dir: DirId | undefined;
    try {
      dir = this.netnsDir();
    } catch {
      // a half-made world: its mount namespace alone
    }
    const out: number[] = [];
    for (const p of readdirSync('/proc')) {
      if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
      try {
        if (readlinkSync(`/proc/${p}/ns/mnt`) === mnt) out.push(Number(p));
        else if (dir) {
          const st = statSync(`/proc/${p}/root/run/netns`);
          if (st.dev === dir.dev && st.ino === dir.ino) out.push(Number(p));
        }
      } catch {
        // gone meanwhile, or not in this world
      }
    }
    return out;
  }

  /** Stops everything in the world and removes it; safe to call twice. */
  destroy(): void {
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    this.sh('ip -all netns del 2>/dev/null; true');
    spawnSync('umount', [join(this.dir, 'mnt')]);
    spawnSync('umount', [join(this.dir, 'net')]);
    spawnSync('umount', [this.dir]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
