// world: a private network namespace and mount namespace, bound to two files (`unshare --net=FILE
// --mount=FILE`) so that they outlive the command that made them and any number of commands can
// enter them. Inside, the world's network namespace plays the host (bridges, host veth ends, host
// iptables and sysctls live there), /run/netns is a tmpfs of its own (named namespaces keep their
// names in every world without colliding) and /sys shows the world's own devices. An instance of
// a lab (`netlab up FILE --instance NAME`) is a world; tests may make worlds joined by a veth to
// play several hosts. The API: createWorld, worldPrefix (the argv that enters it), destroyWorld.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CliError, EXIT } from '../core/errors.js';
import type { CommandRunner } from '../runner/runner.js';
import { type HostFiles, hostFiles } from '../observe/files.js';

/** Where a world is: its directory and the two files its namespaces are bound to. */
export interface WorldFiles {
  dir: string;
  net: string;
  mnt: string;
}

/** A world's identity: the nsfs inodes of its two namespaces and the device/inode of its own /run/netns. */
export interface WorldId {
  net: number;
  mnt: number;
  /** "DEV INO" of the world's /run/netns as stat(1) prints it inside the world. */
  netnsDir: string;
}

/** The files of the world `name` under `parent` (a directory netlab owns). */
export function worldFiles(parent: string, name: string): WorldFiles {
  const dir = join(parent, name);
  return { dir, net: join(dir, 'net'), mnt: join(dir, 'mnt') };
}

/** The mark a world's lo carries (its ifalias), with the world's name. */
export const worldMark = (name: string) => `netlab-world:${name}`;

// Runs as `sh -s PARENT DIR MARK` under flock: binding a mount namespace to a file needs the
// file's mount to be private, so PARENT is bound onto itself and made private once. Inside the new
// world, every nsfs mount it inherited is unmounted first (other worlds' files, the host's
// /run/netns entries): a copy would keep those namespaces alive for as long as this world lives.
// Binding the new mount namespace fails (EINVAL) when its id is not above the id of the mount
// namespace netlab runs in (the kernel's guard against loops), which happens when netlab runs in
// one other than the initial one (a container, a test's world): the kernel hands out namespace ids
// from per-CPU batches, so a namespace made on one CPU can get a lower id than one made earlier on
// another, every time. Each try runs on the next CPU netlab may use (taskset; every CPU gets a
// try): one of them is the CPU whose batch is above the caller's.
const CREATE = `set -e
parent=$1 dir=$2 mark=$3
mkdir -p "$parent"
mountpoint -q "$parent" || { mount --bind "$parent" "$parent"; mount --make-private "$parent"; }
mkdir "$dir"
: > "$dir/net"
: > "$dir/mnt"
trap 'for f in net mnt; do mountpoint -q "$dir/$f" && umount "$dir/$f"; done; rm -rf "$dir"' EXIT
cpus=$(awk '/^Cpus_allowed_list:/ { n = split($2, r, ","); for (i = 1; i <= n; i++) if (split(r[i], b, "-") == 2) { for (c = b[1]; c <= b[2]; c++) print c } else print r[i] }' /proc/self/status 2>/dev/null)
n=$(echo $cpus | wc -w)
tries=20; [ "$n" -gt 20 ] && tries=$n
for try in $(seq $tries); do
  pin=
  if [ "$n" -gt 0 ] && command -v taskset >/dev/null; then
    cpu=$(echo $cpus | tr ' ' '\n' | sed -n "$(( (try - 1) % n + 1 ))p")
    # Pinned only where the kernel lets it be (a seccomp profile, a CPU gone offline): else as it comes.
    taskset -c "$cpu" true 2>/dev/null && pin="taskset -c $cpu"
  fi
  if out=$($pin unshare --net="$dir/net" --mount="$dir/mnt" --propagation private sh -c '
    set -e
    awk '"'"'{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) == "nsfs") print $5; break } }'"'"' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    mkdir -p /run/netns
    mount -t tmpfs netlab-world /run/netns
    mount -t sysfs sysfs /sys
    ip link set lo up
    ip link set lo alias "$1"
    stat -c "%d %i" /run/netns
  ' - "$mark" 2>"$dir/err")
  then trap - EXIT; rm -f "$dir/err"; echo "$out"; exit 0; fi
  for f in net mnt; do mountpoint -q "$dir/$f" && umount "$dir/$f"; done
  grep -q 'Invalid argument' "$dir/err" || break
done
cat "$dir/err" >&2
exit 1
`;

// Runs as `sh -s PARENT DIR` under flock: unbinds the two files, removes the directory, and
// unbinds PARENT when no world is left in it.
const DESTROY = `set -e
parent=$1 dir=$2
for f in net mnt; do if mountpoint -q "$dir/$f"; then umount "$dir/$f"; fi; done
rm -rf "$dir"
if mountpoint -q "$parent" && [ -z "$(ls -A "$parent")" ]; then umount "$parent"; fi
`;

const lockOf = (parent: string) => `${parent}.lock`;

/** The nsfs inode bound at PATH, or undefined when nothing is bound there (an empty file, or no file). */
export function boundInode(path: string): number | undefined {
  try {
    // A bound namespace file is on nsfs, another device than the directory it is in.
    const st = statSync(path);
    return st.dev !== statSync(dirname(path)).dev ? st.ino : undefined;
  } catch {
    return undefined;
  }
}

/** Makes the world; throws a CliError naming the command that failed. */
export async function createWorld(runner: CommandRunner, parent: string, name: string): Promise<{ files: WorldFiles; id: WorldId }> {
  const files = worldFiles(parent, name);
  const r = await runner.run(['flock', lockOf(parent), 'sh', '-s', parent, files.dir, worldMark(name)], { input: CREATE });
  const net = boundInode(files.net);
  const mnt = boundInode(files.mnt);
  const netnsDir = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.exitCode !== 0 || net === undefined || mnt === undefined || !/^\d+ \d+$/.test(netnsDir)) {
    throw new CliError(
      `cannot make the world of ${name} (unshare --net=${files.net} --mount=${files.mnt}): ${r.stderr.trim() || `exit ${r.exitCode}`}`,
      EXIT.applyFailed,
      "netlab needs unshare, nsenter, flock and mountpoint (util-linux), and CAP_SYS_ADMIN; 'netlab gc' removes a half-made world",
    );
  }
  return { files, id: { net, mnt, netnsDir } };
}

/** The argv prefix that runs a command inside the world, in directory `cwd` (paths stay as they are outside). */
export function worldPrefix(files: WorldFiles, cwd?: string): string[] {
  return ['nsenter', `--net=${files.net}`, `--mount=${files.mnt}`, ...(cwd ? [`--wd=${cwd}`] : []), '--'];
}

/** Whether the world bound at FILES is the one with identity ID: 'same', 'gone' (nothing bound), or 'other'. */
export function matchWorld(files: WorldFiles, id: Pick<WorldId, 'net' | 'mnt'>): 'same' | 'gone' | 'other' {
  const net = boundInode(files.net);
  const mnt = boundInode(files.mnt);
  if (net === undefined && mnt === undefined) return 'gone';
  return net === id.net && mnt === id.mnt ? 'same' : 'other';
}

/**
 * The processes inside the world: in its network or mount namespace, or in a mount namespace
 * made from it (`ip netns exec` makes one per command), so seeing the world's own /run/netns.
 */
export function worldPids(id: WorldId, files: HostFiles = hostFiles): number[] {
  return files.pids().filter(
    (pid) =>
      pid !== process.pid &&
      // A tmpfs's device number is unique while it is mounted, and this one is mounted in the world.
      (files.pidNetns(pid) === id.net || files.pidMntns?.(pid) === id.mnt || (id.netnsDir !== '' && files.pidNetnsDir?.(pid) === id.netnsDir)),
  );
}

/**
 * Stops every process inside the world (proven by its identity), unbinds the world's files and
 * removes its directory. The caller proves the world is the one it recorded (matchWorld) first.
 */
export async function destroyWorld(runner: CommandRunner, parent: string, name: string, id: WorldId | undefined): Promise<{ killed: number }> {
  const files = worldFiles(parent, name);
  let killed = 0;
  if (id) {
    for (let round = 0; round < 20; round++) {
      const pids = worldPids(id);
      if (!pids.length) break;
      killed += round === 0 ? pids.length : 0;
      runner.signal ? runner.signal(pids, 'KILL') : await runner.run(['kill', '-KILL', '--', ...pids.map(String)]);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const r = await runner.run(['flock', lockOf(parent), 'sh', '-s', parent, files.dir], { input: DESTROY });
  if (r.exitCode !== 0) throw new CliError(`cannot remove the world of ${name} at ${files.dir}: ${r.stderr.trim()}`, EXIT.applyFailed, 'a process may still hold it: netlab gc tries again');
  return { killed };
}

/** The names of the worlds under `parent`. */
export function listWorlds(parent: string): string[] {
  try {
    return readdirSync(parent, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}
