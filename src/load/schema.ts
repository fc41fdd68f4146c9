// JSON Schema validation with messages a user can act on.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { SrcPath } from '../model/types.js';
import { didYouMean } from './problems.js';

const Ajv = AjvModule.default ?? AjvModule;

export const SCHEMA_PATH = fileURLToPath(new URL('../../../schemas/lab.schema.json', import.meta.url));

let compiled: ValidateFunction | undefined;
let json: { definitions: Record<string, object> } | undefined;
function schemaJson(): { definitions: Record<string, object> } {
  json ??= JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as { definitions: Record<string, object> };
  return json;
}
function validator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, verbose: true, strict: false }).compile(schemaJson());
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
  mac: (v) => ({ message: `invalid MAC address '${String(v)}'`, hint: 'six hex pairs separated by colons, e.g. ee:ee:ee:ee:ee:ee' }),
  name: (v) => ({
    message: `invalid lab name '${String(v)}'`,
    hint: 'letters, digits, _ and -, at most 32 characters',
  }),
};

function defName(e: ErrorObject): string {
  const m = /#\/definitions\/([A-Za-z]+)\/[^/]+$/.exec(e.schemaPath);
  if (m) return m[1]!;
  return /#\/properties\/name\/pattern$/.test(e.schemaPath) ? 'name' : '';
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

function describeTypes(types: string[]): string {
  const words = types.map((t) => ({ object: 'a mapping', array: 'a list', null: 'empty', integer: 'an integer', string: 'a string', boolean: 'true or false', number: 'a number' })[t] ?? t);
  return [...new Set(words)].join(' or ');
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
    case 'required':
      return { path, message: `missing required key '${String(p.missingProperty)}'` };
    case 'type':
      return { path, message: `expected ${describeTypes(String(p.type).split(','))}, got ${typeName(e.data)}` };
    case 'enum':
      return {
        path: propName !== undefined ? [...path, propName] : path,
        key: propName !== undefined,
        message: `'${String(propName ?? e.data)}' is not one of: ${(p.allowedValues as unknown[]).join(', ')}`,
        ...(didYouMean(String(propName ?? e.data), (p.allowedValues as unknown[]).map(String))
          ? { hint: didYouMean(String(propName ?? e.data), (p.allowedValues as unknown[]).map(String))! }
          : {}),
      };
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
    case 'maximum':
      return { path, message: `${String(e.data)} is out of range: must be ${e.keyword === 'minimum' ? '>=' : '<='} ${String(p.limit)}` };
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
  for (const a of errors.filter((e) => e.keyword === 'anyOf')) {
    const types = (a.schema as unknown[]).flatMap(branchTypes);
    const t = jsonType(a.data);
    const fits = types.includes(t) || (t === 'integer' && types.includes('number'));
    for (const e of errors) if (e.keyword === 'type' && e.instancePath === a.instancePath) drop.add(e);
    if (fits) drop.add(a);
    else replace.set(a, { ...a, keyword: 'type', params: { type: [...new Set(types)].join(',') } });
  }
  return errors.filter((e) => !drop.has(e) || replace.has(e)).map((e) => replace.get(e) ?? e);
}

export function validateSchema(data: unknown): SchemaIssue[] {
  const v = validator();
  if (v(data)) return [];
  const issues = reduce(v.errors ?? []).map(one);
  // ajv can report the same place twice (e.g. type + pattern); keep the first message per place.
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${JSON.stringify(i.path)}|${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
