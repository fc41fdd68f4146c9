// `npm run build`, last step: bundles the compiled CLI (dist/src/cli/main.js) into dist/bundle/,
// what the `netlab` command runs: one file loads faster than hundreds (bench/README.md). One ESM
// file per lazily loaded part (split at each dynamic import: the YAML and schema code, the
// terminal UI, execa, ...), so a command loads only what it uses.
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../paths.js';

const outdir = join(ROOT, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });
const { metafile } = await build({
  entryPoints: { netlab: join(ROOT, 'dist', 'src', 'cli', 'main.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Some dependencies are CommonJS and call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __netlabRequire } from 'node:module'; const require = __netlabRequire(import.meta.url);" },
  // Ink loads React DevTools only when DEV=true; it is not a dependency of netlab's.
  external: ['react-devtools-core'],
  logLevel: 'warning',
  metafile: true,
});
writeFileSync(join(outdir, 'package.json'), '{ "type": "module" }\n');
// What each chunk holds and imports: the tests read it to keep the entry chunk lean.
writeFileSync(join(ROOT, 'dist', 'bundle-meta.json'), JSON.stringify(metafile));
