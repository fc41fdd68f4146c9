// The ownership journal's shape: what a lab made (state/journal.ts reads and writes it).
import type { HostRule } from './types.js';
import type { NsId } from './ownership.js';

export interface TableRecord {
  /** Hash of the payload last restored. */
  hash: string;
  /** The table as iptables-save printed it right after, normalized; absent if not read yet. */
  saved?: string;
}

export interface Journal {
  version: 1;
  lab: string;
  /** Absolute path of the lab file last applied. */
  file: string;
  status: 'applying' | 'up' | 'failed';
  updated: string;
  /**
   * Namespaces this lab claims: written before it creates one (so that a crash leaves nothing
   * unlisted), proven its own by `ids` or its mark (src/model/ownership.ts), never by the name alone.
   */
  namespaces: string[];
  /** Links in the host namespace this lab claims (bridges, veth host ends), as namespaces. */
  hostLinks: string[];
  /**
   * Identities of the claimed objects proven the lab's: a namespace's nsfs inode and mtime, a host
   * link's ifindex. Absent in journals written before identities were recorded: their objects are
   * then the lab's only when they carry its mark.
   */
  ids?: { ns?: Record<string, NsId>; links?: Record<string, number> };
  /** Per namespace (host = ""): sysctl key -> value before the lab first set it. */
  sysctls: Record<string, Record<string, string>>;
  /** Per namespace: table key -> what was restored. */
  iptables: Record<string, Record<string, TableRecord>>;
  /** Host iptables rules added, as written and as iptables-save prints them. */
  hostIptables: (HostRule & { saved?: string })[];
  /** Host iptables tables that existed before the lab first added rules, per family. */
  hostTablesBefore?: Partial<Record<'ipv4' | 'ipv6', string[]>>;
  /** Host chains ("table/chain") that really existed then (nf_tables), per family: a rule may create its chain. */
  hostChainsBefore?: Partial<Record<'ipv4' | 'ipv6', string[]>>;
  /**
   * Host sysctls the kernel rewrote when the lab first wrote a key of `sysctls[""]` (every
   * interface's `forwarding` when ip_forward changes), with their values before: restored after it.
   */
  hostSysctlSides?: Record<string, string>;
  /** Per namespace: veth end -> its peer "ns/name", to notice a re-wired link. */
  peers: Record<string, Record<string, string>>;
  /** Namespaces that had IPv6 policy-routing rules. */
  v6rules: string[];
  /** Per namespace: the ipsets the lab made there, to read them back (and destroy those it no longer declares). */
  ipsets?: Record<string, string[]>;
  /** Namespaces where the lab put impairments (qdiscs) on interfaces, to read them back. */
  impaired?: string[];
  /**
   * Per namespace that a read of `up` last found as the file asks (not one it had just changed): the
   * fingerprint of the file's part for it and the namespace's identity (inode) as read;
   * `up --trust-verified` trusts a namespace whose both still agree.
   */
  verified?: Record<string, { fp: string; ino: number }>;
  /** Key of the lab file's entry in the lab cache (src/load/cache.ts), kept while the lab is up. */
  labKey?: string;
  /** Processes started in nodes, by "node/name". */
  processes?: Record<string, ProcessRecord>;
}

export interface ProcessRecord {
  ns: string;
  argv: string[];
  pid: number;
  /** Start time from /proc/PID/stat (field 22), so a reused pid is never mistaken for ours. */
  start: string;
  log: string;
}
