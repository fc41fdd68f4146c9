// load: YAML text -> schema -> normalized Lab, with every problem located in the file. The sections
// are normalized in the order of the file's meaning: bridges and links (which give nodes their veth
// ends), nodes (their own interfaces, then what refers to interfaces), members, host, processes,
// checks. Each section's file reports into one LabContext; problems are sorted by position at the end.
import { HOST, type Family, type HostSpec, type Lab, type NodeSpec } from '../model/types.js';
import { LabError, sortProblems } from './problems.js';
import { SourceMap } from './source.js';
import { readLabBytes } from './read.js';
import { normalizeChecks, normalizeProcesses } from './checks.js';
import { validateSchema } from './schema.js';
import { parseLabYaml } from './yaml.js';
import { LabContext } from './context.js';
import { normalizeBridges, normalizeLinks } from './links.js';
import { enslaveMembers, normalizeNode } from './nodes.js';
import { normalizeSysctls } from './sysctls.js';
import { HOST_SETS, normalizeTables } from './firewall.js';
import type { RawLab } from './raw.js';

export { MAX_DEPTH } from './yaml.js';

/** Reads and validates a lab file; throws LabError with every problem found. Reads nothing but the file. */
export function loadLabFile(file: string): Lab {
  return loadLab(readLabBytes(file).toString('utf8'), file);
}

export function loadLab(text: string, file: string): Lab {
  const src = new SourceMap(file);
  const data = parseLabYaml(text, src);
  const problems = validateSchema(data).map((issue) => src.problem(issue.path, issue.message, issue.hint, { key: issue.key ?? false }));
  if (problems.length) throw new LabError(sortProblems(problems));
  const ctx = new LabContext(src, Object.keys((data as RawLab).nodes ?? {}));
  const lab = normalize(ctx, data as RawLab);
  if (ctx.problems.length) throw new LabError(sortProblems(ctx.problems));
  return lab;
}

/** The sections of a schema-valid lab, in order. */
function normalize(ctx: LabContext, raw: RawLab): Lab {
  const nodeNames = Object.keys(raw.nodes ?? {});
  const bridges = normalizeBridges(ctx, raw.bridges ?? {}, nodeNames);
  const links = normalizeLinks(ctx, raw.links ?? [], nodeNames, bridges);
  const nodes = new Map<string, NodeSpec>();
  for (const name of nodeNames) nodes.set(name, normalizeNode(ctx, name, raw.nodes?.[name] ?? {}));
  enslaveMembers(ctx, nodes, links, bridges);
  const hostRaw = raw.host ?? {};
  const host: HostSpec = {
    sysctls: normalizeSysctls(ctx, hostRaw.sysctls ?? {}, ['host', 'sysctls'], HOST),
    iptables: { ipv4: normalizeTables(ctx, hostRaw.iptables ?? {}, ['host', 'iptables'], 'ipv4'), ipv6: normalizeTables(ctx, hostRaw.ip6tables ?? {}, ['host', 'ip6tables'], 'ipv6') },
  };
  if (hostRaw.ipsets !== undefined) ctx.err(['host', 'ipsets'], HOST_SETS.message, HOST_SETS.hint, true);
  const processes = nodeNames.flatMap((n) => normalizeProcesses(n, raw.nodes?.[n]?.processes ?? [], (p, m, h) => ctx.err(p, m, h), ['nodes', n, 'processes']));
  const addrs = (node: string) => {
    const out: { iface: string; addr: string; family: Family }[] = [];
    const named = [...links.flatMap((l) => l.ends), ...bridges.values(), ...(nodes.get(node)?.interfaces ?? [])];
    for (const e of named) if (e.ns === node) for (const a of e.addresses) out.push({ iface: e.name, addr: a.cidr.split('/')[0]!, family: a.cidr.includes(':') ? 'ipv6' : 'ipv4' });
    return out;
  };
  const checks = normalizeChecks({ nodes: nodeNames, addresses: addrs, err: (p, m, h) => ctx.err(p, m, h) }, raw.checks ?? []);
  return {
    checks,
    processes,
    name: raw.name,
    ...(raw.description !== undefined ? { description: raw.description } : {}),
    file: ctx.src.file,
    nodes,
    bridges,
    links,
    host,
    ipv6LinkLocal: raw.ipv6_link_local ?? true,
  };
}
