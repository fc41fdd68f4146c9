// Normalizes a guided lab's `variants:` and `steps:`. A variant is a JSON Merge Patch of the lab
// file's data: the lab it makes is validated in full, its problems located in the variant. Each
// step's commands and checks are validated against the lab the step runs in: its variant's, or
// the one the steps before it left (the state accumulates, as in the article).
import { HOST, HOST_NODE, type CheckSpec, type Lab, type SrcPath, type StepCommand, type StepSpec } from '../model/types.js';
import { commandText } from '../core/shell.js';
import { durationMs, MAX_TIMEOUT_MS, normalizeChecks, type CheckContext } from './checks.js';
import { displayPath, didYouMean, type Problem } from './problems.js';
import { mergePatch, patchReach } from './merge-patch.js';
import { SourceMap } from './source.js';
import type { LabContext } from './context.js';
import type { RawLab } from './raw.js';

/** Locates the problems of a variant's lab in the variant: where the patch wrote the value, or at the variant when the value comes from the lab file. */
export class VariantSourceMap extends SourceMap {
  constructor(
    private readonly base: SourceMap,
    private readonly name: string,
    private readonly patch: unknown,
  ) {
    super(base.file, base.doc);
  }

  override problem(path: SrcPath, message: string, hint?: string, opts: { key?: boolean } = {}): Problem {
    const at: SrcPath = ['variants', this.name];
    const reach = patchReach(this.patch, path);
    if (reach.inside) return this.base.problem([...at, ...path], message, hint, opts);
    const declared = this.base.problem(path, '');
    const where = `${displayPath(path) || 'the lab'}: ${message}`;
    const from = `with variant '${this.name}' applied; the value comes from line ${declared.line} of the lab file`;
    return this.base.problem([...at, ...path.slice(0, reach.depth)], `${where} (${from})`, hint);
  }
}

/** What a variant's patch may not change. */
const FIXED: Record<string, string> = {
  name: "a variant is the same lab changed in place: it keeps the lab's name",
  variants: 'variants do not nest: declare every variant at the top level',
  steps: 'a variant changes the lab, not its steps',
};

/**
 * The data of the lab a variant makes (the lab file's data without its variants and steps, patched),
 * or the problems of its patch's top-level keys.
 */
export function variantData(
  data: Record<string, unknown>,
  name: string,
  patch: Record<string, unknown>,
  err: (path: SrcPath, message: string, hint?: string) => void,
): Record<string, unknown> | undefined {
  const bad = Object.keys(patch).filter((k) => k in FIXED && !(k === 'name' && patch[k] === data.name));
  for (const k of bad) err(['variants', name, k], `a variant cannot change '${k}'`, FIXED[k]);
  if (bad.length) return undefined;
  const { variants: _v, steps: _s, ...base } = data;
  return mergePatch(base, patch) as Record<string, unknown>;
}

/** Addresses of a lab's node, for the checks that name a node as their target. */
export function addressesOf(lab: Pick<Lab, 'links' | 'bridges' | 'nodes'>): CheckContext['addresses'] {
  return (node) => {
    const out: ReturnType<CheckContext['addresses']> = [];
    const named = [...lab.links.flatMap((l) => l.ends), ...lab.bridges.values(), ...(lab.nodes.get(node)?.interfaces ?? [])];
    for (const e of named) if (e.ns === node) for (const a of e.addresses) out.push({ iface: e.name, addr: a.cidr.split('/')[0]!, family: a.cidr.includes(':') ? 'ipv6' : 'ipv4' });
    return out;
  };
}

/** The variant step `i` runs in (its own or the last one before it). */
const variantOf = (raw: NonNullable<RawLab['steps']>, i: number): string | undefined => raw.slice(0, i + 1).findLast((s) => s.variant !== undefined)?.variant;

/** The lab has something in the host namespace (a bridge or a veth end) for @host to name. */
const hasHostPart = (lab: Lab) => [...lab.bridges.values()].some((b) => b.ns === HOST) || lab.links.some((l) => l.ends.some((e) => e.ns === HOST));

/**
 * The steps of a lab file. `labs` holds the lab as declared and every valid variant's lab; a
 * variant that is invalid (its problems are reported already) leaves the steps after it unchecked
 * until the next variant.
 */
export function normalizeSteps(ctx: LabContext, raw: NonNullable<RawLab['steps']>, declared: Lab, variants: Map<string, Lab | undefined>): StepSpec[] {
  let current: Lab | undefined = declared;
  return raw.map((r, i) => {
    const path: SrcPath = ['steps', i];
    if (/[\r\n]/.test(r.title.trim())) ctx.err([...path, 'title'], "a step's title is one line", "put the rest in 'explain'");
    if (r.variant !== undefined) {
      if (!variants.has(r.variant)) {
        ctx.err(
          [...path, 'variant'],
          `no variant named '${r.variant}'`,
          didYouMean(r.variant, variants.keys()) ?? (variants.size ? `the variants: ${[...variants.keys()].join(', ')}` : "declare it under 'variants:' (an empty patch {} is the lab as declared)"),
        );
        current = undefined;
      } else current = variants.get(r.variant);
    }
    const lab = current;
    const run: StepCommand[] = [];
    (r.run ?? []).forEach((c, k) => {
      const p: SrcPath = [...path, 'run', k];
      if (!lab) return;
      if (c.node === HOST_NODE) {
        if (!hasHostPart(lab)) return ctx.err([...p, 'node'], `${HOST_NODE} is the host's root namespace, and this lab has nothing there`, `the lab's nodes: ${[...lab.nodes.keys()].join(', ')}`);
      } else if (!lab.nodes.has(c.node)) {
        if (declared.nodes.has(c.node)) return ctx.err([...p, 'node'], `node '${c.node}' is not in the lab this step runs in: variant '${variantOf(raw, i)}' removes it`);
        return ctx.err(
          [...p, 'node'],
          `no node named '${c.node}'${lab === declared ? '' : ' in the lab this step runs in'}`,
          didYouMean(c.node, lab.nodes.keys()) ?? `a step's command runs in a node of the lab, or in ${HOST_NODE}`,
        );
      }
      let timeoutMs = durationMs(c.timeout, 30000);
      if (timeoutMs === undefined || timeoutMs > MAX_TIMEOUT_MS) {
        ctx.err([...p, 'timeout'], `invalid timeout '${String(c.timeout)}'`, "write milliseconds (1500) or a duration ('30s', '500ms')");
        timeoutMs = 30000;
      }
      const argv = typeof c.command === 'string' ? ['sh', '-c', c.command] : c.command;
      run.push({
        node: c.node,
        ns: c.node === HOST_NODE ? HOST : c.node,
        argv,
        text: typeof c.command === 'string' ? c.command : commandText(c.command),
        expectFail: c.expect_fail ?? false,
        timeoutMs,
        path: [...p, 'command'],
      });
    });
    let expect: CheckSpec[] = [];
    if (lab) {
      const cctx: CheckContext = { nodes: [...lab.nodes.keys()], addresses: addressesOf(lab), err: (p, m, h) => ctx.err(p, m, h) };
      expect = normalizeChecks(cctx, r.expect ?? [], [...path, 'expect']);
    }
    return { title: r.title, explain: r.explain, ...(r.variant !== undefined ? { variant: r.variant } : {}), run, expect, path };
  });
}
