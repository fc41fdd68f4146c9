// load: YAML text -> schema -> normalized Lab, with every problem located in the file. The sections
// are normalized in the order of the file's meaning: bridges and links (which give nodes their veth
// ends), nodes (their own interfaces, then what refers to interfaces), members, host, processes,
// checks, then the variants (each a lab of its own) and the steps. Each section's file reports
// into one LabContext; problems are sorted by position at the end.
import { HOST, type HostSpec, type Lab, type LabHost, type NodeSpec } from '../model/types.js';
import { domains } from '../model/domains.js';
import { normalizeHosts } from './hosts.js';
import { LabError, sortProblems, type Problem } from './problems.js';
import { normalizeSteps, VariantSourceMap, variantData } from './steps.js';
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
export function loadLabFile(file: string, inventory?: Map<string, LabHost>): Lab {
  return loadLab(readLabBytes(file).toString('utf8'), file, inventory);
}

/** inventory: hosts from an Ansible inventory (src/load/inventory.ts), under the file's own. */
export function loadLab(text: string, file: string, inventory?: Map<string, LabHost>): Lab {
  const src = new SourceMap(file);
  const data = parseLabYaml(text, src) as Record<string, unknown>;
  const problems = schemaProblems(src, data);
  if (problems.length) throw new LabError(sortProblems(problems));
  const raw = data as unknown as RawLab;
  const ctx = new LabContext(src, Object.keys(raw.nodes ?? {}));
  const lab = normalize(ctx, raw, inventory);
  // Each variant is a lab of its own, validated in full; its problems point into the variant.
  const variants = new Map<string, Lab | undefined>();
  for (const [name, patch] of Object.entries(raw.variants ?? {})) variants.set(name, loadVariant(ctx, data, name, patch));
  if (raw.steps?.length) lab.steps = normalizeSteps(ctx, raw.steps, lab, variants);
  if (variants.size) lab.variants = new Map([...variants].filter((v): v is [string, Lab] => v[1] !== undefined));
  if (ctx.problems.length) throw new LabError(sortProblems(ctx.problems));
  return lab;
}

function schemaProblems(src: SourceMap, data: object): Problem[] {
  return validateSchema(data).map((issue) => src.problem(issue.path, issue.message, issue.hint, { key: issue.key ?? false }));
}

/** The lab a variant makes, or undefined when it is invalid (its problems are added to ctx's). */
function loadVariant(ctx: LabContext, data: Record<string, unknown>, name: string, patch: Record<string, unknown>): Lab | undefined {
  const patched = variantData(data, name, patch, (p, m, h) => ctx.err(p, m, h));
  if (!patched) return undefined;
  const vsrc = new VariantSourceMap(ctx.src, name, patch);
  const problems = schemaProblems(vsrc, patched);
  if (problems.length) {
    ctx.problems.push(...problems);
    return undefined;
  }
  const raw = patched as unknown as RawLab;
  const vctx = new LabContext(vsrc, Object.keys(raw.nodes ?? {}));
  const lab = normalize(vctx, raw);
  ctx.problems.push(...vctx.problems);
  return vctx.problems.length ? undefined : lab;
}

/** The sections of a schema-valid lab, in order. */
function normalize(ctx: LabContext, raw: RawLab, inventory?: Map<string, LabHost>): Lab {
  const nodeNames = Object.keys(raw.nodes ?? {});
  const bridges = normalizeBridges(ctx, raw.bridges ?? {}, nodeNames);
  const links = normalizeLinks(ctx, raw.links ?? [], nodeNames, bridges);
  const nodes = new Map<string, NodeSpec>();
  for (const name of nodeNames) nodes.set(name, normalizeNode(ctx, name, raw.nodes?.[name] ?? {}));
  enslaveMembers(ctx, nodes, links, bridges);
  const dom = domains({ links, bridges, nodes });
  ctx.addressClashes(dom);
  const hosts = normalizeHosts(ctx, raw, nodes, bridges, links, inventory);
  const hostRaw = raw.host ?? {};
  const host: HostSpec = {
    sysctls: normalizeSysctls(ctx, hostRaw.sysctls ?? {}, ['host', 'sysctls'], HOST),
    iptables: { ipv4: normalizeTables(ctx, hostRaw.iptables ?? {}, ['host', 'iptables'], 'ipv4'), ipv6: normalizeTables(ctx, hostRaw.ip6tables ?? {}, ['host', 'ip6tables'], 'ipv6') },
    uplink: hostRaw.uplink ?? false,
  };
  if (hostRaw.ipsets !== undefined) ctx.err(['host', 'ipsets'], HOST_SETS.message, HOST_SETS.hint, true);
  const processes = nodeNames.flatMap((n) => normalizeProcesses(n, raw.nodes?.[n]?.processes ?? [], (p, m, h) => ctx.err(p, m, h), ['nodes', n, 'processes']));
  const checks = normalizeChecks({ nodes: nodeNames, domains: dom, err: (p, m, h) => ctx.err(p, m, h) }, raw.checks ?? []);
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
    ...(hosts ? { hosts } : {}),
  };
}
