// The lab-file field reference, rendered from schemas/lab.schema.json: the schema is the one
// documented source of the lab format, and docs/lab-file.md holds what this renders between two
// markers (`npm run docs` rewrites it; a unit test fails when the two differ).
import { stringify } from 'yaml';

export const BEGIN = '<!-- generated from schemas/lab.schema.json by `npm run docs`: do not edit -->';
export const END = '<!-- end of the generated field reference -->';

/** The part of JSON Schema (draft-07) the lab schema uses. */
export interface Schema {
  $ref?: string;
  description?: string;
  type?: string | string[];
  enum?: unknown[];
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema;
  required?: string[];
  default?: unknown;
  examples?: unknown[];
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  definitions?: Record<string, Schema>;
  [k: string]: unknown;
}

export interface Row {
  /** Where the field is in a lab file: `nodes.NODE.routes[].via`. */
  path: string;
  type: string;
  default?: unknown;
  description: string;
  examples: unknown[];
  required: boolean;
}

/** What a map's keys stand for in a path, by the map's own key. */
const PLACEHOLDER: Record<string, string> = {
  nodes: 'NODE',
  bridges: 'BRIDGE',
  interfaces: 'IFNAME',
  sysctls: 'KEY',
  addresses: 'NODE',
  impair: 'END',
  filter: 'CHAIN',
  nat: 'CHAIN',
  mangle: 'CHAIN',
  raw: 'CHAIN',
  security: 'CHAIN',
};

const PLURAL: Record<string, string> = { string: 'strings', integer: 'integers', number: 'numbers', boolean: 'booleans', mapping: 'mappings' };

/** Every field of the lab file, depth first in the schema's order. */
export function schemaRows(root: Schema): Row[] {
  const defs = root.definitions ?? {};
  /** A definition with fields of its own is listed once; later places point back to it. */
  const listedAt = new Map<string, string>();
  const rows: Row[] = [];

  /**
   * The schema with its $ref followed. Keywords beside the $ref win (a place's own default or
   * examples), except that a place's own description comes before the definition's, not instead.
   */
  function resolve(s: Schema): { s: Schema; def?: string } {
    if (!s.$ref) return { s };
    const name = s.$ref.replace(/^#\/definitions\//, '');
    const target = defs[name];
    if (!target) throw new Error(`schema: no definition for ${s.$ref}`);
    const { $ref: _, ...own } = s;
    const inner = resolve(target);
    const description = [...new Set([own.description, inner.s.description].filter((d) => d !== undefined))].join(' ');
    return { s: { ...inner.s, ...own, ...(description ? { description } : {}) }, def: inner.def ?? name };
  }

  /** The branches of a value: each alternative of an anyOf, or the schema itself. */
  const branches = (s: Schema): Schema[] => (s.anyOf ? s.anyOf.flatMap((b) => branches(resolve(b).s)) : [s]);

  const mapValue = (b: Schema): Schema | undefined => (typeof b.additionalProperties === 'object' ? b.additionalProperties : undefined);

  function hasChildren(s: Schema): boolean {
    return branches(s).some((b) => (b.properties && Object.keys(b.properties).length > 0) || [mapValue(b), b.items].some((c) => c !== undefined && ownRow(c)));
  }
  /** A list's items or a map's values get a row of their own when there is something to say about them. */
  function ownRow(c: Schema): boolean {
    const r = resolve(c).s;
    return r.description !== undefined || hasChildren(r);
  }

  function typeOf(s: Schema): string {
    const r = resolve(s).s;
    if (r.enum) return r.enum.map((v) => code(v)).join(', ');
    if (r.anyOf) return [...new Set(r.anyOf.map(typeOf))].join(' or ');
    const types = r.type === undefined ? [] : Array.isArray(r.type) ? r.type : [r.type];
    const words = types.map((t) => {
      if (t === 'object') {
        const v = mapValue(r);
        return v && !ownRow(v) ? `mapping to ${typeOf(v)}` : 'mapping';
      }
      if (t === 'array') {
        const of = r.items && !ownRow(r.items) ? typeOf(r.items) : undefined;
        const n = r.minItems !== undefined && r.minItems === r.maxItems ? ` (exactly ${r.minItems})` : r.minItems ? ` (at least ${r.minItems})` : '';
        return `${of ? `list of ${PLURAL[of] ?? `(${of})`}` : 'list'}${n}`;
      }
      return t === 'null' ? 'empty' : t;
    });
    const range = r.minimum !== undefined && r.maximum !== undefined ? ` ${r.minimum}-${r.maximum}` : r.minimum !== undefined ? ` >= ${r.minimum}` : r.maximum !== undefined ? ` <= ${r.maximum}` : '';
    return `${words.join(' or ')}${range}`;
  }

  function visit(s: Schema, path: string, key: string, required: boolean): void {
    const { s: r, def } = resolve(s);
    const first = def && hasChildren(r) ? listedAt.get(def) : undefined;
    const description = `${r.description ?? ''}${first ? ` Written as '${first}'.` : ''}`.trim();
    rows.push({ path, type: typeOf(s), ...(r.default !== undefined ? { default: r.default } : {}), description, examples: r.examples ?? [], required });
    if (first) return;
    if (def && hasChildren(r)) listedAt.set(def, path);
    children(r, path, key);
  }

  function children(r: Schema, path: string, key: string): void {
    for (const b of branches(r)) {
      for (const [k, v] of Object.entries(b.properties ?? {})) visit(v, path ? `${path}.${k}` : k, k, (b.required ?? []).includes(k));
      const v = mapValue(b);
      if (v && ownRow(v)) visit(v, `${path}.${PLACEHOLDER[key] ?? 'KEY'}`, '', false);
      if (b.items && ownRow(b.items)) visit(b.items, `${path}[]`, key, false);
    }
  }

  children(root, '', '');
  return rows;
}

/** A value as it is written in a lab file (YAML flow style), in a code span. */
function code(v: unknown): string {
  const text = stringify(v, { collectionStyle: 'flow', lineWidth: 0, flowCollectionPadding: false }).trimEnd();
  return `\`${text.replace(/\|/g, '\\|')}\``;
}

/** Plain text for a table cell: 'quoted' words become code, the rest is escaped for Markdown. */
function prose(text: string): string {
  const plain = (t: string) => t.replace(/[\\*_|[\]]/g, (c) => `\\${c}`).replace(/</g, '&lt;');
  const out: string[] = [];
  let last = 0;
  for (const m of text.matchAll(/(?<=^|[\s([{])'([^'\n]+?)'(?=$|[\s)\]},.;:])/g)) {
    out.push(plain(text.slice(last, m.index)), `\`${m[1]!.replace(/\|/g, '\\|')}\``);
    last = m.index! + m[0].length;
  }
  out.push(plain(text.slice(last)));
  return out.join('');
}

/** The Markdown that goes between the markers: one table per top-level field that has fields of its own. */
export function renderSchemaDoc(root: Schema): string {
  const rows = schemaRows(root);
  const top = rows.filter((r) => !/[.[]/.test(r.path));
  const table = (rs: Row[]) =>
    [
      '| field | type | default | description | examples |',
      '|---|---|---|---|---|',
      ...rs.map(
        (r) =>
          `| \`${r.path}\`${r.required ? ' (required)' : ''} | ${r.type.replace(/\|/g, '\\|')} | ${r.default !== undefined ? code(r.default) : ''} | ${prose(r.description)} | ${r.examples.map(code).join('<br>')} |`,
      ),
    ].join('\n');
  const sections = [`### Top level\n\n${table(top)}`];
  for (const t of top) {
    const under = rows.filter((r) => r.path.startsWith(`${t.path}.`) || r.path.startsWith(`${t.path}[]`));
    if (under.length) sections.push(`### Under \`${t.path}\`\n\n${table(under)}`);
  }
  return `${sections.join('\n\n')}\n`;
}

/** The document with its generated section replaced by `generated`. */
export function spliceGenerated(doc: string, generated: string): string {
  const b = doc.indexOf(BEGIN);
  const e = doc.indexOf(END);
  if (b < 0 || e < b || doc.indexOf(BEGIN, b + 1) >= 0 || doc.indexOf(END, e + 1) >= 0) throw new Error(`expected the markers ${BEGIN} and ${END} once each, in this order`);
  return `${doc.slice(0, b)}${BEGIN}\n\n${generated}\n${doc.slice(e)}`;
}
