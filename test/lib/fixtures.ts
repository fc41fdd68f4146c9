// Fixtures for unit tests: lab texts, the observed state a perfect apply leaves, and HostFiles
// stand-ins (namespaces and processes as /proc and /run/netns would show them).
import { HOST, type DesiredState, type ObservedNs, type ObservedState } from '../../src/model/types.js';
import { newJournal } from '../../src/state/journal.js';
import type { Journal } from '../../src/model/journal.js';
import { normalizeSave } from '../../src/render/iptables.js';
import { loadLab } from '../../src/load/lab.js';
import { desiredState } from '../../src/model/desired.js';

/** The articles' two namespaces on one host bridge (ns1 at `ns1Addr`, ns2 at 192.168.20.2/24). */
export const twoOnBridge = (name: string, ns1Addr = '192.168.20.1/24') => `
name: ${name}
nodes:
  ns1:
  ns2:
bridges:
  br1: {}
links:
  - endpoints: [ns1:tap1, br1:tap1_peer]
    addresses: {ns1: ${ns1Addr}}
  - endpoints: [ns2:tap2, br1:tap2_peer]
    addresses: {ns2: 192.168.20.2/24}
`;

/**
 * A lab with a route of every type netlab manages, in both families, a local route without a table
 * included; `extra` adds routes to node a (ip-route lines or YAML flow mappings).
 */
export const everyRoute = (name: string, extra: string[] = []) => `
name: ${name}
nodes:
  a:
    routes:
      - local 10.5.0.1 dev lo
${extra.map((r) => `      - ${r}\n`).join('')}      - throw 10.6.0.0/16
      - blackhole 10.8.0.0/16
      - prohibit 10.10.0.0/16
      - unreachable 10.11.0.0/16
      - 10.12.0.0/16 via 10.0.0.254
      - 10.13.0.0/16 dev eth0
      - local 10.14.0.0/24 dev lo table 100
      - {to: 10.16.0.0/16, type: throw, table: 100}
      - local 2001:db8:9::1 dev lo
      - throw 2001:db8:1::/48
      - blackhole 2001:db8:2::/48
      - 2001:db8:3::/48 via 2001:db8::fe
      - {to: 2001:db8:4::/48, type: unreachable}
      - prohibit 2001:db8:5::/48
  b:
links:
  - endpoints: [a:eth0, b:eth0]
    addresses: {a: [10.0.0.1/24, 2001:db8::1/64], b: [10.0.0.254/24, 2001:db8::fe/64]}
`;

export function labOf(yaml: string) {
  const lab = loadLab(yaml, 'lab.yaml');
  return { lab, desired: desiredState(lab) };
}

export function emptyObserved(): ObservedState {
  const host: ObservedNs = { links: new Map(), routes: [], rules: [], sysctls: new Map(), iptables: new Map() };
  return { netns: new Set(), ns: new Map([[HOST, host]]), hostSysctls: new Map(), hostIptables: [], hostTables: {}, processes: new Map() };
}

/** The kernel after the desired state was applied, and the journal that apply would have left. */
export function applied(d: DesiredState): { observed: ObservedState; journal: Journal } {
  const observed = emptyObserved();
  const journal = newJournal(d.lab, '/labs/lab.yaml');
  journal.status = 'up';
  for (const [ns, s] of d.ns) {
    if (ns !== HOST) {
      observed.netns.add(ns);
      journal.namespaces.push(ns);
    }
    const o: ObservedNs = {
      links: new Map([...s.links].map(([k, l]) => [k, { ...l, addresses: [...l.addresses], up: l.up, mtu: l.mtu ?? 1500, mac: l.mac ?? '02:00:00:00:00:01' }])),
      routes: s.routes.map((r) => ({ ...r, ...(r.dev ? {} : { dev: 'eth0' }) })),
      rules: s.rules.map((r, i) => ({ ...r, pref: r.pref ?? 32765 - i })),
      sysctls: new Map(s.sysctls),
      iptables: new Map(),
      ...(ns !== HOST ? { mark: `netlab:${d.lab}` } : {}),
    };
    for (const l of o.links.values()) delete l.peer;
    // As if every sysctl was changed by the lab from the kernel's "0".
    const own = ns === HOST ? d.hostSysctls : s.sysctls;
    for (const k of own.keys()) (journal.sysctls[ns] ??= {})[k] = '0';
    for (const [key, t] of s.iptables) {
      const saved = normalizeSave(t.payload).get(t.table)!;
      o.iptables.set(key, saved);
      (journal.iptables[ns] ??= {})[key] = { hash: t.hash, saved };
    }
    if (s.ipsets.size) {
      o.ipsets = new Map([...s.ipsets].map(([k, v]) => [k, { ...v, members: [...v.members] }]));
      (journal.ipsets ??= {})[ns] = [...s.ipsets.keys()];
    }
    for (const l of s.links.values()) {
      if (ns === HOST) journal.hostLinks.push(l.name);
      if (l.peer) (journal.peers[ns] ??= {})[l.name] = `${l.peer.ns}/${l.peer.name}`;
    }
    observed.ns.set(ns, o);
  }
  observed.hostSysctls = new Map(d.hostSysctls);
  observed.ns.get(HOST)!.sysctls = observed.hostSysctls;
  return { observed, journal };
}

/** A process in a fake /proc: its network namespace's inode and its stat fields. */
export interface FakeProc {
  pid: number;
  net?: number;
  comm?: string;
  state?: string;
  pgrp?: number;
  start: string;
  argv?: string[];
  stdout?: string;
}

/** /proc/PID/stat text as the kernel writes it (52 fields; the ones netlab reads set). */
export function statText(p: FakeProc): string {
  const fields = Array.from({ length: 50 }, () => '0');
  fields[0] = p.state ?? 'S';
  fields[1] = '1'; // ppid
  fields[2] = String(p.pgrp ?? p.pid);
  fields[19] = p.start;
  return `${p.pid} (${p.comm ?? 'sleep'}) ${fields.join(' ')}\n`;
}

/**
 * A fake HostFiles: namespaces by name with their nsfs inodes, and processes (a mutable list:
 * a test removes one to make it exit).
 */
export function fakeFiles(o: { netns?: Record<string, number>; procs?: FakeProc[]; procNetDev?: string; sysctls?: Record<string, string> } = {}) {
  const netns = o.netns ?? {};
  const procs = o.procs ?? [];
  const find = (pid: number) => procs.find((p) => p.pid === pid);
  return {
    procs,
    netns: () => Object.keys(netns),
    procNetDev: () => o.procNetDev ?? '',
    sysctls: (keys: string[]) => new Map(keys.flatMap((k) => (o.sysctls?.[k] !== undefined ? [[k, o.sysctls[k]!] as const] : []))),
    netnsInode: (name: string) => netns[name],
    nsId: (name: string) => (netns[name] === undefined ? undefined : { ino: netns[name]!, mtime: '1.0' }),
    pids: () => procs.map((p) => p.pid),
    pidNetns: (pid: number) => (find(pid)?.state === 'Z' ? undefined : find(pid)?.net),
    pidStat: (pid: number) => {
      const p = find(pid);
      return p ? statText(p) : undefined;
    },
    pidCmdline: (pid: number) => (find(pid) ? (find(pid)!.argv ?? ['sleep', '1000']) : undefined),
    pidStdout: (pid: number) => find(pid)?.stdout,
  };
}

/** The rest of a fake HostFiles with no process at all (and no host sysctl). */
export const noProcesses = {
  sysctls: () => new Map<string, string>(),
  netnsInode: () => undefined,
  pids: () => [],
  pidNetns: () => undefined,
  pidStat: () => undefined,
  pidCmdline: () => undefined,
  pidStdout: () => undefined,
};
