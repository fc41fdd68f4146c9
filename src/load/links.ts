// The layer-2 sections of a lab file: bridges, and links with their endpoints, addresses and impairments.
import { HOST, type BridgeSpec, type EndSpec, type Impairment, type LinkSpec, type SrcPath } from '../model/types.js';
import { checkImpairment } from '../model/impair.js';
import { didYouMean } from './problems.js';
import { list, RESERVED_IFNAMES, reservedMessage, type LabContext } from './context.js';
import type { RawBridge, RawEnd, RawImpair, RawLink } from './raw.js';

/** Bridges, in the host or in a node; their names are interface names there. */
export function normalizeBridges(ctx: LabContext, raw: Record<string, RawBridge | null>, nodeNames: string[]): Map<string, BridgeSpec> {
  for (const b of Object.keys(raw))
    if (nodeNames.includes(b)) ctx.err(['bridges', b], `duplicate name '${b}': a node has it too`, 'nodes and bridges share one namespace of names (endpoints refer to either)', true);
  const bridges = new Map<string, BridgeSpec>();
  for (const [name, b] of Object.entries(raw)) {
    const path: SrcPath = ['bridges', name];
    let ns = HOST;
    if (b?.node !== undefined) {
      if (!nodeNames.includes(b.node)) ctx.err([...path, 'node'], `no node named '${b.node}'`, didYouMean(b.node, nodeNames));
      else ns = b.node;
    }
    if (RESERVED_IFNAMES.includes(name)) ctx.err(path, reservedMessage(name), 'pick another name', true);
    ctx.claimIface(ns, name, path, true);
    bridges.set(name, { name, ns, path, ...ctx.iface(b ?? {}, ns, b?.addresses, [...path, 'addresses']) });
  }
  return bridges;
}

/** Links (veth pairs) between nodes and bridges; the addresses and impair maps go to their ends. */
export function normalizeLinks(ctx: LabContext, raw: RawLink[], nodeNames: string[], bridges: Map<string, BridgeSpec>): LinkSpec[] {
  const links: LinkSpec[] = [];
  raw.forEach((l, i) => {
    const path: SrcPath = ['links', i];
    const owners = l.endpoints.map((e) => (typeof e === 'string' ? e.slice(0, e.indexOf(':')) : e.node));
    // With both ends in one node the addresses map is ambiguous (reported below): ignore it.
    const eff = owners.length === 2 && owners[0] === owners[1] ? { ...l, addresses: undefined, impair: undefined } : l;
    const ends = l.endpoints.map((e, j) => end(ctx, e, [...path, 'endpoints', j], eff, nodeNames, bridges)).filter((e): e is EndSpec => !!e);
    for (const field of ['addresses', 'impair'] as const) {
      for (const key of Object.keys(l[field] ?? {})) {
        if (!owners.includes(key))
          ctx.err([...path, field, key], `'${key}' is not an end of this link`, [didYouMean(key, owners), `the ends are ${owners.join(' and ')}`].filter(Boolean).join('; '), true);
        else if (owners.length === 2 && owners[0] === owners[1])
          ctx.err(
            [...path, field, key],
            `both ends of this link are in '${key}': the ${field} map cannot tell them apart`,
            `give each end its ${field} in the long form: {node: ..., name: ..., ${field}: ...}`,
            true,
          );
      }
    }
    if (ends.length === 2) links.push({ ends: [ends[0]!, ends[1]!], path });
  });
  return links;
}

/** One end of a link: the node or bridge it is in, its name and settings. */
function end(ctx: LabContext, e: string | RawEnd, path: SrcPath, link: RawLink, nodeNames: string[], bridges: Map<string, BridgeSpec>): EndSpec | undefined {
  const raw: RawEnd = typeof e === 'string' ? { node: e.slice(0, e.indexOf(':')), name: e.slice(e.indexOf(':') + 1) } : e;
  const at = raw.node;
  const bridge = bridges.get(at);
  if (!bridge && !nodeNames.includes(at)) {
    const hint = didYouMean(at, [...nodeNames, ...bridges.keys()]) ?? `declare it under nodes: or bridges:`;
    ctx.err(typeof e === 'string' ? path : [...path, 'node'], `no node or bridge named '${at}'`, hint);
    return undefined;
  }
  const ns = bridge ? bridge.ns : at;
  const namePath = typeof e === 'string' ? path : [...path, 'name'];
  if (!ctx.ifName(raw.name, namePath)) return undefined;
  ctx.claimIface(ns, raw.name, path);
  if (link.addresses?.[at] !== undefined && raw.addresses !== undefined)
    ctx.err([...path, 'addresses'], `addresses for '${at}:${raw.name}' are given twice: here and in the link's addresses map`, 'keep one of them');
  const addrs = link.addresses?.[at] !== undefined ? link.addresses[at] : raw.addresses;
  const addrPath = link.addresses?.[at] !== undefined ? [...path.slice(0, 2), 'addresses', at] : [...path, 'addresses'];
  if (bridge && list(addrs).length) ctx.err(addrPath, `'${raw.name}' is a port of bridge '${at}' and cannot hold an address`, `put the address on the bridge: bridges: {${at}: {addresses: [...]}}`);
  const settings = ctx.iface(raw, ns, bridge ? undefined : addrs, addrPath, link.mtu);
  if (link.impair?.[at] !== undefined && raw.impair !== undefined)
    ctx.err([...path, 'impair'], `impairments for '${at}:${raw.name}' are given twice: here and in the link's impair map`, 'keep one of them');
  const rawImpair = link.impair?.[at] ?? raw.impair;
  const impair = rawImpair ? impairment(ctx, rawImpair, link.impair?.[at] !== undefined ? [...path.slice(0, 2), 'impair', at] : [...path, 'impair']) : undefined;
  return { at, ns, name: raw.name, ...(bridge ? { master: bridge.name } : {}), ...settings, ...(impair ? { impair } : {}), path };
}

function impairment(ctx: LabContext, raw: RawImpair, path: SrcPath): Impairment | undefined {
  const { impair, problems } = checkImpairment(raw);
  for (const p of problems) ctx.err([...path, p.field], p.message, p.hint);
  return impair;
}
