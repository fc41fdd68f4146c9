// JSON Schema validation with messages a user can act on.
import { readFileSync } from 'node:fs';
import { SCHEMA_PATH } from '../paths.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { SrcPath } from '../model/types.js';
import { didYouMean } from './problems.js';

let compiled: ValidateFunction | undefined;
let json: { definitions: Record<string, object> } | undefined;
function schemaJson(): { definitions: Record<string, object> } {
  json ??= JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as { definitions: Record<string, object> };
  return json;
}
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: false } as const;

/**
 * The validator `npm run build` generated from the schema (ajv standalone code: no compiling at
 * run time). Falls back to compiling when it is missing or stale.
 */
const generated = (await import('./validator.generated.js' as string).catch(() => undefined)) as { default: ValidateFunction; schemaText?: string } | undefined;

/** Only without a fresh generated validator (a source checkout before `npm run build`). */
const fallback = generated?.schemaText === readFileSync(SCHEMA_PATH, 'utf8') ? undefined : await import('ajv');

function validator(): ValidateFunction {
  if (!compiled && !fallback) compiled = generated!.default;
  if (!compiled) {
    const Ajv = fallback!.default.default ?? fallback!.default;
    compiled = new (Ajv as unknown as new (o: object) => { compile(s: object): ValidateFunction })(AJV_OPTIONS).compile(schemaJson());
  }
  return compiled;
}

export interface SchemaIssue {
  path: SrcPath;
  /** Point at the key rather than the value. */
  key?: boolean;
  message: string;
  hint?: string;
}

function toPath(pointer: string): SrcPath {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

const FRIENDLY_PATTERN: Record<string, (v: unknown) => { message: string; hint?: string }> = {
  ifName: (v) => ({
    message: `invalid interface name '${String(v)}'`,
    hint: 'use letters, digits, _ . and - (at most 15 bytes, as the kernel allows)',
  }),
  nodeName: (v) => ({
    message: `invalid node name '${String(v)}'`,
    hint: 'a node is a network namespace: letters, digits, _ . and -, starting with a letter or digit',
  }),
  endpointString: (v) => ({
    message: `invalid endpoint '${String(v)}'`,
    hint: "write NODE:IFNAME or BRIDGE:IFNAME, e.g. 'ns1:tap1' or 'br1:tap1_peer'",
  }),
  duration: (v) => ({ message: `invalid time '${String(v)}'`, hint: 'a number with its unit: us, ms or s, e.g. 100ms or 1.5ms' }),
  rate: (v) => ({ message: `invalid rate '${String(v)}'`, hint: 'a number with a tc unit: bit, kbit, mbit, gbit (bits per second) or bps, kbps, mbps (bytes per second), e.g. 10mbit' }),
  percent: (v) => ({ message: `invalid percentage '${String(v)}'`, hint: 'e.g. 1% or 0.5% (or a number from 0 to 100)' }),
  mac: (v) => ({ message: `invalid MAC address '${String(v)}'`, hint: 'six hex pairs separated by colons, e.g. ee:ee:ee:ee:ee:ee' }),
  name: (v) => ({
    message: `invalid lab name '${String(v)}'`,
    hint: 'letters, digits, _ and -, starting with a letter or digit, at most 32 characters',
  }),
  variantName: (v) => ({
    message: `invalid variant name '${String(v)}'`,
    hint: 'letters, digits, _ . and -, starting with a letter or digit',
  }),
  chainName: (v) => ({
    message: `invalid chain name '${String(v)}'`,
    hint: 'letters, digits, _ . and -, at most 28 characters',
  }),
  fwmark: (v) => ({
    message: `invalid fwmark '${String(v)}'`,
    hint: 'write MARK or MARK/MASK in decimal or 0x hex, e.g. 0x1/0x1',
  }),
};

/** Which value a pattern/maxLength/enum error is about: the (sub)schema holding the failing keyword. */
/** Structural equality: the generated validator holds copies of the schema's parts, not the same objects. */
function same(a: unknown, b: unknown): boolean {
  return a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b));
}

function defName(e: ErrorObject): string {
  const defs = schemaJson().definitions as Record<string, Record<string, unknown>>;
  const sub = (o: unknown, ...keys: (string | number)[]): unknown => keys.reduce<unknown>((x, k) => (x as Record<string | number, unknown> | undefined)?.[k], o);
  for (const name of Object.keys(defs)) if (same(e.parentSchema, defs[name])) return name;
  if (same(e.parentSchema, sub(defs, 'chains', 'propertyNames'))) return 'chainName';
  if (same(e.parentSchema, sub(defs, 'hostChains', 'propertyNames'))) return 'hostChainName';
  if (same(e.parentSchema, sub(defs, 'rule', 'anyOf', 1, 'properties', 'fwmark', 'anyOf', 0))) return 'fwmark';
  if (same(e.parentSchema, sub(defs, 'percent', 'anyOf', 0))) return 'percent';
  return /#\/properties\/name\/pattern$/.test(e.schemaPath) ? 'name' : '';
}

const REQUIRED_HINTS: Record<string, string> = {
  name: 'start the file with: name: my-lab',
  endpoints: 'endpoints: [ns1:veth0, ns2:veth0]',
  node: 'the node or bridge this end is in, e.g. node: ns1',
  to: "the destination: 'default', an address or a prefix, e.g. to: 10.0.0.0/8",
  table: 'the table to look up, e.g. table: 100',
};

/** In a step the same keys mean other things. */
const STEP_REQUIRED_HINTS: Record<string, string> = {
  node: 'the node the command runs in, e.g. node: c1',
  command: 'the command as the article types it, e.g. command: iptables -L INPUT -n',
  title: 'one line saying what the step shows, e.g. title: The DROP rule stops the ping',
  explain: 'a few lines of Markdown, e.g. explain: |',
};

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

function describeTypes(types: string[]): string {
  const words = types.map((t) => ({ object: 'a mapping', array: 'a list', null: 'empty', integer: 'an integer', string: 'a string', boolean: 'true/false', number: 'a number' })[t] ?? t);
  const ws = [...new Set(words)];
  return ws.length <= 2 ? ws.join(' or ') : `${ws.slice(0, -1).join(', ')} or ${ws[ws.length - 1]}`;
}

function one(e: ErrorObject): SchemaIssue {
  const path = toPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  const propName = (e as ErrorObject & { propertyName?: string }).propertyName;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const allowed = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {});
      const dym = didYouMean(key, allowed);
      return {
        path: [...path, key],
        key: true,
        message: `unknown key '${key}'`,
        hint: [dym, allowed.length ? `allowed here: ${allowed.join(', ')}` : undefined].filter(Boolean).join('; '),
      };
    }
    case 'required': {
      const key = String(p.missingProperty);
      const hint = path[0] === 'steps' ? STEP_REQUIRED_HINTS[key] : REQUIRED_HINTS[key];
      return { path, message: `missing required key '${key}'`, ...(hint ? { hint } : {}) };
    }
    case 'type': {
      const hostChain = path[0] === 'host' && path.length === 4;
      const friendly = FRIENDLY_PATTERN[defName(e)]?.(e.data).hint;
      return {
        path,
        message: `expected ${describeTypes(String(p.type).split(','))}, got ${typeName(e.data)}`,
        ...(hostChain && typeName(e.data) === 'a mapping' ? { hint: "a host chain is a list of rules: netlab never changes the host's chain policies" } : friendly ? { hint: friendly } : {}),
      };
    }
    case 'enum': {
      const value = String(propName ?? e.data);
      const allowed = (p.allowedValues as unknown[]).map(String);
      const hostChain = defName(e) === 'hostChainName';
      const hint = [didYouMean(value, allowed), hostChain ? 'the host takes rules in its built-in chains only; custom chains can be declared in nodes' : undefined].filter(Boolean).join('; ');
      return {
        path: propName !== undefined ? [...path, propName] : path,
        key: propName !== undefined,
        message: hostChain ? `'${value}' is not a built-in chain: the host takes one of ${allowed.join(', ')}` : `'${value}' is not one of: ${allowed.join(', ')}`,
        ...(hint ? { hint } : {}),
      };
    }
    case 'pattern': {
      const value = propName ?? e.data;
      const f = FRIENDLY_PATTERN[defName(e)];
      const base = f ? f(value) : { message: `'${String(value)}' does not match ${String(p.pattern)}` };
      return { path: propName !== undefined ? [...path, propName] : path, key: propName !== undefined, ...base };
    }
    case 'maxLength': {
      const value = String(propName ?? e.data);
      if (defName(e) === 'ifName')
        return {
          path: propName !== undefined ? [...path, propName] : path,
          key: propName !== undefined,
          message: `interface name '${value}' is ${Buffer.byteLength(value)} bytes; the kernel allows at most 15`,
          hint: 'shorten it (IFNAMSIZ is 16 including the terminating NUL)',
        };
      return { path, message: `'${value}' is longer than ${String(p.limit)} characters` };
    }
    case 'minItems':
    case 'maxItems':
      if (path[path.length - 1] === 'endpoints') return { path, message: 'a link has exactly two endpoints', hint: 'endpoints: [ns1:veth0, ns2:veth1]' };
      return { path, message: `must have ${e.keyword === 'minItems' ? 'at least' : 'at most'} ${String(p.limit)} items` };
    case 'minimum':
    case 'maximum': {
      const hint = path[path.length - 1] === 'pref' ? '0, 32766 and 32767 hold the kernel default rules: use 1-32765' : undefined;
      return {
        path,
        message: `${String(e.data)} is out of range: must be ${e.keyword === 'minimum' ? '>=' : '<='} ${String(p.limit)}`,
        ...(hint ? { hint } : {}),
      };
    }
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

/** The JSON types a (sub)schema accepts, following $ref into the definitions. */
function branchTypes(b: unknown): string[] {
  let s = b as { type?: string | string[]; $ref?: string; anyOf?: unknown[] };
  if (s.$ref) s = schemaJson().definitions[s.$ref.replace('#/definitions/', '')] ?? {};
  if (s.anyOf) return s.anyOf.flatMap(branchTypes);
  if (s.type === undefined) return ['string'];
  return Array.isArray(s.type) ? s.type : [s.type];
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (Number.isInteger(v)) return 'integer';
  return typeof v;
}

/**
 * Reduces ajv's errors for anyOf (short form | long form) to the errors of the branch whose type
 * matches the value, or to one "expected X or Y" when none does. A branch of the wrong type only
 * ever reports a type error at the anyOf's own place, so those are what is dropped.
 */
function reduce(errors: ErrorObject[]): ErrorObject[] {
  const drop = new Set<ErrorObject>();
  const replace = new Map<ErrorObject, ErrorObject>();
  // Type errors by place, so that many errors cost linear time.
  const typeAt = new Map<string, ErrorObject[]>();
  for (const e of errors) if (e.keyword === 'type') typeAt.set(e.instancePath, [...(typeAt.get(e.instancePath) ?? []), e]);
  for (const a of errors.filter((e) => e.keyword === 'anyOf')) {
    const types = (a.schema as unknown[]).flatMap(branchTypes);
    const t = jsonType(a.data);
    const fits = types.includes(t) || (t === 'integer' && types.includes('number'));
    for (const e of typeAt.get(a.instancePath) ?? []) drop.add(e);
    if (fits) drop.add(a);
    else replace.set(a, { ...a, keyword: 'type', params: { type: [...new Set(types)].join(',') } });
  }
  return errors.filter((e) => !drop.has(e) || replace.has(e)).map((e) => replace.get(e) ?? e);
}

export function validateSchema(data: unknown): SchemaIssue[] {
  const v = validator();
  if (v(data)) return [];
  const issues = reduce(v.errors ?? [])
    .filter((e) => e.keyword !== 'propertyNames')
    .map(one);
  // ajv can report the same place twice (e.g. type + pattern); keep the first message per place.
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${JSON.stringify(i.path)}|${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
