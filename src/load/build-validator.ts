// Build step: generates dist/src/load/validator.generated.js, the schema's validator as ajv
// standalone code, so no command compiles the schema at run time.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import AjvModule from 'ajv';
import standaloneModule from 'ajv/dist/standalone/index.js';
import { AJV_OPTIONS } from './schema.js';
import { SCHEMA_PATH } from '../paths.js';

const Ajv = AjvModule.default ?? AjvModule;
type Standalone = (ajv: unknown, v: unknown) => string;
const standalone = ((standaloneModule as unknown as { default?: Standalone }).default ?? standaloneModule) as unknown as Standalone;
const text = readFileSync(SCHEMA_PATH, 'utf8');
const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: true } });
const code = standalone(ajv, ajv.compile(JSON.parse(text)));
const out = fileURLToPath(new URL('./validator.generated.js', import.meta.url));
// ajv's ESM output still require()s its small runtime helpers (ucs2length, equal).
// It also gathers the errors of each sub-schema with vErrors.concat(...), a copy of every error so
// far per node: quadratic in a file with many problems. Appending in place gives the same list.
const append = 'function appendErrors(to, more) { for (const e of more) to.push(e); return to; }\n';
const body = code.replace(/^"use strict";/, '').replace(/vErrors\.concat\((validate\d+\.errors)\)/g, 'appendErrors(vErrors, $1)');
writeFileSync(out, `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${append}${body}\nexport const schemaText = ${JSON.stringify(text)};\n`);
console.log(`wrote ${out}`);
