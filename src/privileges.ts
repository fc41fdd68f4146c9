// privileges: root, and the capabilities namespaces need (CAP_NET_ADMIN, CAP_SYS_ADMIN), read
// from /proc/self/status. One verdict for `netlab doctor` and for every command that needs them.
import { readFileSync } from 'node:fs';
import { CliError, EXIT } from './core/errors.js';

export interface Privileges {
  ok: boolean;
  root: boolean;
  uid: number;
  capNetAdmin: boolean;
  capSysAdmin: boolean;
  /** CapEff from /proc/self/status, hex. */
  capEff: string;
  detail: string;
}

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;

/** Root, or CAP_NET_ADMIN and CAP_SYS_ADMIN in the effective set (namespaces need both). */
export function probePrivileges(status?: string, uid?: number): Privileges {
  let text = status;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      text = '';
    }
  }
  const id = uid ?? process.getuid?.() ?? -1;
  const capEff = /^CapEff:\s*([0-9a-fA-F]+)/m.exec(text)?.[1] ?? '';
  const caps = capEff ? BigInt(`0x${capEff}`) : 0n;
  const has = (bit: bigint) => ((caps >> bit) & 1n) === 1n;
  const capNetAdmin = has(CAP_NET_ADMIN);
  const capSysAdmin = has(CAP_SYS_ADMIN);
  const ok = capNetAdmin && capSysAdmin;
  const missing = [!capNetAdmin && 'CAP_NET_ADMIN', !capSysAdmin && 'CAP_SYS_ADMIN'].filter(Boolean).join(' and ');
  const who = id === 0 ? 'root (uid 0)' : `uid ${id}, not root`;
  const detail = ok
    ? `${who}, CAP_NET_ADMIN and CAP_SYS_ADMIN effective`
    : capEff
      ? `${who}, without ${missing} (CapEff ${capEff}): namespaces and links need both; run as root${id === 0 ? ' outside this restricted container, or give the container those capabilities' : ' (sudo netlab ...)'}`
      : `${who}, capabilities unknown (no /proc/self/status): run as root`;
  return { ok, root: id === 0, uid: id, capNetAdmin, capSysAdmin, capEff, detail };
}

/**
 * Every command that touches namespaces needs CAP_NET_ADMIN and CAP_SYS_ADMIN (what netlab doctor
 * checks, with the same verdict): refused before anything is changed.
 */
export function requireRoot(what: string): void {
  const p = probePrivileges();
  if (p.ok) return;
  if (!p.root)
    throw new CliError(
      `netlab ${what} needs root: network namespaces, links and iptables need CAP_NET_ADMIN and CAP_SYS_ADMIN`,
      EXIT.error,
      `sudo netlab ${what} ... (if sudo then says 'command not found', node and netlab are on your PATH only, as after an nvm install: sudo env "PATH=$PATH" netlab ${what} ...)`,
    );
  throw new CliError(
    `netlab ${what} needs CAP_NET_ADMIN and CAP_SYS_ADMIN, and this root process lacks ${[!p.capNetAdmin && 'CAP_NET_ADMIN', !p.capSysAdmin && 'CAP_SYS_ADMIN'].filter(Boolean).join(' and ')} (CapEff ${p.capEff || 'unknown'}); nothing was changed`,
    EXIT.unsupported,
    'run it outside this restricted container or capability-dropping wrapper, or give the container those capabilities (docker run --cap-add NET_ADMIN --cap-add SYS_ADMIN); netlab doctor shows the privileges',
  );
}
