// `npm run docs`: rewrites the field reference in docs/lab-file.md from the schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, SCHEMA_PATH } from '../paths.js';
import { renderSchemaDoc, spliceGenerated } from './schema-doc.js';

const file = join(ROOT, 'docs', 'lab-file.md');
const old = readFileSync(file, 'utf8');
const next = spliceGenerated(old, renderSchemaDoc(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8'))));
if (next === old) console.log(`${file}: up to date`);
else {
  writeFileSync(file, next);
  console.log(`wrote ${file}`);
}
