// Host state the kernel (or another tool) ties to what a lab changes: pure rules about it.
import { hostComment } from './iptables.js';
import { HOST, type DesiredState, type Family, type HostFirewall, type HostRule } from './types.js';

/**
 * Writing one of these host sysctls makes the kernel rewrite `forwarding` on every interface of
 * that family (and `default`): the per-interface keys it rewrites, as a pattern. `all` is the key
 * itself (ip_forward and conf/all/forwarding are one setting).
 */
export function sysctlSides(key: string): RegExp | undefined {
  if (key === 'net/ipv4/ip_forward' || key === 'net/ipv4/conf/all/forwarding') return /^net\/ipv4\/conf\/(?!all\/)[^/]+\/forwarding$/;
  if (key === 'net/ipv6/conf/all/forwarding') return /^net\/ipv6\/conf\/(?!all\/)[^/]+\/forwarding$/;
  return undefined;
}

/** The per-interface keys to read for a cascading key, given the host's interfaces. */
export function sideKeys(key: string, ifaces: Iterable<string>): string[] {
  const fam = sysctlSides(key);
  if (!fam) return [];
  const v = key.startsWith('net/ipv6/') ? 'ipv6' : 'ipv4';
  return ['default', ...ifaces].map((i) => `net/${v}/conf/${i}/forwarding`);
}

/** bridge-nf-call-* sysctl per family. */
export const BRIDGE_NF: Record<Family, string> = { ipv4: 'net/bridge/bridge-nf-call-iptables', ipv6: 'net/bridge/bridge-nf-call-ip6tables' };

/** Reads what decides the bridge guards from a normalized filter table (iptables-save text). */
export function firewallOf(filter: string | undefined, bridgeNf: string | undefined): HostFirewall {
  const policy = /^:FORWARD (\S+)/m.exec(filter ?? '')?.[1];
  return { bridgeNf: bridgeNf === '1', dockerUser: /^:DOCKER-USER /m.test(filter ?? ''), ...(policy ? { forwardPolicy: policy } : {}) };
}

/** Bridged traffic goes through this family's FORWARD and may be dropped there (a Docker host). */
export function guardsNeeded(fw: HostFirewall | undefined): boolean {
  return !!fw && fw.bridgeNf && (fw.forwardPolicy === 'DROP' || fw.dockerUser);
}

export function conditionText(family: Family, fw: HostFirewall): string {
  const what = [fw.forwardPolicy === 'DROP' ? 'FORWARD policy DROP' : '', fw.dockerUser ? 'a DOCKER-USER chain' : ''].filter(Boolean).join(' and ');
  return `${family === 'ipv4' ? 'iptables' : 'ip6tables'}: ${what}, ${BRIDGE_NF[family].split('/').pop()}=1 (Docker-like firewall): bridged traffic goes through iptables FORWARD`;
}

/**
 * Containerlab's answer for its bridges: on a Docker-like host, accept the traffic within each of
 * the lab's host bridges, in DOCKER-USER when it exists (Docker keeps it first in FORWARD), else in
 * FORWARD, first in the chain. Tagged like every host rule: journaled, shown by plan, removed by down.
 */
export function bridgeGuards(desired: DesiredState, fw: Partial<Record<Family, HostFirewall>> | undefined): { rules: HostRule[]; notes: string[] } {
  const bridges = [...(desired.ns.get(HOST)?.links.values() ?? [])].filter((l) => l.kind === 'bridge').map((l) => l.name);
  const rules: HostRule[] = [];
  const notes: string[] = [];
  if (!bridges.length) return { rules, notes };
  for (const family of ['ipv4', 'ipv6'] as Family[]) {
    const f = fw?.[family];
    if (!f || !guardsNeeded(f)) continue;
    const chain = f.dockerUser ? 'DOCKER-USER' : 'FORWARD';
    for (const b of bridges) rules.push({ family, table: 'filter', chain, spec: `-i ${b} -o ${b} -j ACCEPT -m comment --comment ${hostComment(desired.lab)}`, first: true });
    notes.push(
      `${conditionText(family, f)}; netlab accepts the traffic within ${bridges.join(', ')} with '-i BRIDGE -o BRIDGE -j ACCEPT' in ${chain} (tagged ${hostComment(desired.lab)}, removed by down)`,
    );
  }
  return { rules, notes };
}

/** Is this iptables-save rule (the text after "-A CHAIN ") tagged with the lab's comment? */
export function hasTag(spec: string, lab: string): boolean {
  const tag = hostComment(lab);
  return ` ${spec}`
    .split(' -m comment --comment ')
    .slice(1)
    .some((rest) => rest.startsWith(`${tag} `) || rest === tag || rest.startsWith(`"${tag}"`));
}
