// The raw types of a lab file (src/load/raw.generated.ts) are generated from the schema by
// src/load/build-raw-types.mjs: the committed file is what the generator makes of the current
// schema, and the generator types what it knows exactly and refuses what it does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, SCHEMA_PATH } from '../../src/paths.js';

type Schema = Record<string, unknown>;
const gen = (await import(pathToFileURL(join(ROOT, 'src', 'load', 'build-raw-types.mjs')).href)) as { generate(s: Schema): string; toType(s: Schema): string };

test('src/load/raw.generated.ts holds what the generator makes of the current schema (else: npm run build)', () => {
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Schema;
  assert.equal(readFileSync(join(ROOT, 'src', 'load', 'raw.generated.ts'), 'utf8'), gen.generate(schema));
});

test('primitives, enums, unions, lists and references', () => {
  assert.equal(gen.toType({ type: 'integer', minimum: 1 }), 'number');
  assert.equal(gen.toType({ type: ['string', 'integer', 'boolean'] }), 'string | number | boolean');
  assert.equal(gen.toType({ enum: ['ACCEPT', 'DROP'] }), '"ACCEPT" | "DROP"');
  assert.equal(gen.toType({ anyOf: [{ type: 'null' }, { $ref: '#/definitions/node' }] }), 'null | RawNode');
  assert.equal(gen.toType({ type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'integer' }] } }), '(string | number)[]');
});

test('objects: required and optional fields with their descriptions, maps, maps with fixed keys', () => {
  const t = gen.toType({ type: 'object', additionalProperties: false, required: ['to'], properties: { to: { type: 'string', description: 'Destination.' }, metric: { type: 'integer' } } });
  assert.equal(t, '{\n  /** Destination. */\n  to: string;\n  metric?: number;\n}');
  assert.equal(gen.toType({ type: 'object', additionalProperties: { $ref: '#/definitions/chain' } }), 'Record<string, RawChain>');
  assert.equal(gen.toType({ type: 'object', propertyNames: { enum: ['INPUT', 'OUTPUT'] }, additionalProperties: { type: 'string' } }), 'Partial<Record<"INPUT" | "OUTPUT", string>>');
});

test('an object with exactly one of its keys (a check) is a union of one-key objects', () => {
  const t = gen.toType({ type: 'object', minProperties: 1, maxProperties: 1, additionalProperties: false, properties: { ping: { type: 'string' }, tcp: { type: 'integer' } } });
  assert.equal(t, '{\n  ping: string;\n} | {\n  tcp: number;\n}');
});

test('schema keywords the generator cannot type fail the build instead of typing wrongly', () => {
  assert.throws(() => gen.toType({ oneOf: [{ type: 'string' }] }), /'oneOf' is not supported/);
  assert.throws(() => gen.toType({ allOf: [{ type: 'string' }] }), /'allOf' is not supported/);
  assert.throws(() => gen.toType({ $ref: 'other.json#/x' }), /\$ref other.json#\/x is not supported/);
  assert.throws(() => gen.toType({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'string' } }), /additionalProperties are not supported/);
  assert.throws(() => gen.toType({ description: 'no type' }), /without a type/);
});
