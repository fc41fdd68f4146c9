// The field reference in docs/lab-file.md is generated from the schema: the docs cannot drift from
// it, every field has a description, and the annotated example there is a lab that validates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, SCHEMA_PATH } from '../../src/paths.js';
import { BEGIN, END, renderSchemaDoc, schemaRows, spliceGenerated, type Schema } from '../../src/load/schema-doc.js';
import { loadLab } from '../../src/load/lab.js';

const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Schema;
const DOC = join(ROOT, 'docs', 'lab-file.md');

test('docs/lab-file.md holds what the generator makes of the current schema (else: npm run docs)', () => {
  const doc = readFileSync(DOC, 'utf8');
  assert.equal(spliceGenerated(doc, renderSchemaDoc(schema)), doc);
});

test("every property of the schema has a description, its own or its definition's", () => {
  const missing: string[] = [];
  let n = 0;
  const walk = (o: unknown, at: string): void => {
    if (!o || typeof o !== 'object') return;
    for (const [k, v] of Object.entries(o)) {
      if (k === 'properties')
        for (const [name, p] of Object.entries(v as Record<string, Schema>)) {
          n++;
          const def = p.$ref ? schema.definitions![p.$ref.replace('#/definitions/', '')] : undefined;
          if (!p.description && !def?.description) missing.push(`${at}/properties/${name}`);
        }
      walk(v, `${at}/${k}`);
    }
  };
  walk(schema, '#');
  assert.ok(n > 100, `only ${n} properties found`);
  assert.deepEqual(missing, []);
  for (const r of schemaRows(schema)) assert.notEqual(r.description, '', `${r.path} has no description`);
});

test("the generator: $ref followed, a place's own words first, repeated shapes listed once, map keys named, Markdown escaped", () => {
  const s: Schema = {
    type: 'object',
    required: ['nodes'],
    properties: {
      nodes: { type: 'object', additionalProperties: { $ref: '#/definitions/box' } },
      spare: { description: 'Another box.', $ref: '#/definitions/box' },
      n: { description: "Count, 'a|b' or not.", type: 'integer', minimum: 1, maximum: 9, default: 3, examples: [2, 'x: y'] },
    },
    definitions: {
      box: { description: 'A box.', type: 'object', properties: { mode: { description: 'Mode.', enum: ['on', 'off'] } } },
    },
  };
  assert.deepEqual(
    schemaRows(s).map((r) => [r.path, r.type, r.description, r.required]),
    [
      ['nodes', 'mapping', '', true],
      ['nodes.NODE', 'mapping', 'A box.', false],
      ['nodes.NODE.mode', '`on`, `off`', 'Mode.', false],
      ['spare', 'mapping', "Another box. A box. Written as 'nodes.NODE'.", false],
      ['n', 'integer 1-9', "Count, 'a|b' or not.", false],
    ],
  );
  const md = renderSchemaDoc(s);
  assert.match(md, /^\| `n` \| integer 1-9 \| `3` \| Count, `a\\\|b` or not\. \| `2`<br>`"x: y"` \|$/m);
  assert.match(md, /^### Under `nodes`$/m);
  assert.match(md, /^\| `nodes` \(required\) \|/m);
  assert.doesNotMatch(md, /spare\.mode/);
});

test('the generated section is replaced between its markers, and only with both markers once', () => {
  const doc = `intro\n${BEGIN}\nold\n${END}\nrest\n`;
  assert.equal(spliceGenerated(doc, 'new\n'), `intro\n${BEGIN}\n\nnew\n\n${END}\nrest\n`);
  assert.throws(() => spliceGenerated('no markers', 'x'), /markers/);
  assert.throws(() => spliceGenerated(`${END}\n${BEGIN}`, 'x'), /markers/);
});

test('the annotated example in docs/lab-file.md is a lab that validates', () => {
  const example = /```yaml\n([\s\S]*?)```/.exec(readFileSync(DOC, 'utf8'))?.[1];
  if (example === undefined) return assert.fail('no yaml block in docs/lab-file.md');
  assert.ok(example.startsWith('# yaml-language-server: $schema=../schemas/lab.schema.json'));
  loadLab(example, 'lab-file.md');
});
