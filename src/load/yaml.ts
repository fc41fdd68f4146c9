// The YAML layer of a lab file: one document, no deeper than MAX_DEPTH, no alias bomb, and every
// syntax error located where the user has to look.
import { Composer, isScalar, Parser, visit, YAMLParseError, type CST, type Document } from 'yaml';
import { LabError, sortProblems, type Problem } from './problems.js';
import type { SourceMap } from './source.js';

/** Collections nested deeper than this are refused: a lab file needs fewer than ten levels. */
export const MAX_DEPTH = 64;
/** YAML's own guard against alias bombs (the yaml library's default). */
const MAX_ALIAS_COUNT = 100;

/** The data of a lab file's one YAML document, a mapping; throws LabError with its YAML problems. */
export function parseLabYaml(text: string, src: SourceMap): object {
  const file = src.file;
  const tokens = [...new Parser(src.lines.addNewLine).parse(text)];
  // The composer, toJS and our own walkers recurse per level: bound the depth before any of them.
  const deep = tooDeep(tokens);
  if (deep !== undefined)
    throw new LabError([
      { file, ...src.pos(deep), path: '', message: `invalid YAML: collections nested more than ${MAX_DEPTH} levels deep`, hint: 'a lab file needs only a few levels: is this the right file?' },
    ]);
  const doc = compose(tokens, text.length);
  src.doc = doc;
  const problems = yamlProblems(text, doc, src, tokens);
  if (problems.length) throw new LabError(problems);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch (e) {
    // The only throw left in toJS is the alias guard: say where the aliases are.
    let first: number | undefined;
    visit(doc, { Alias: (_, a) => ((first = a.range?.[0]), visit.BREAK) });
    throw new LabError([
      {
        file,
        ...src.pos(first ?? 0),
        path: '',
        message: `invalid YAML: the aliases expand to too much data (${(e as Error).message})`,
        hint: `netlab expands at most ${MAX_ALIAS_COUNT} aliased nodes: write the repeated parts out, or alias less`,
      },
    ]);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new LabError([src.problem([], 'a lab file is a mapping with at least a name', 'start with: name: my-lab')]);
  }
  return data;
}

/** Composes the one document of a lab file (parseDocument, from tokens already parsed). */
function compose(tokens: CST.Token[], length: number): Document {
  // Duplicate keys are found by yamlProblems, in one pass (the library's check is quadratic).
  const docs = [...new Composer({ prettyErrors: false, uniqueKeys: false }).compose(tokens, true, length)];
  const doc = docs[0]!;
  if (docs.length > 1) doc.errors.push(new YAMLParseError([docs[1]!.range[0], docs[1]!.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents'));
  return doc;
}

/** The offset of the first collection nested deeper than MAX_DEPTH, found without recursion. */
function tooDeep(tokens: CST.Token[]): number | undefined {
  const stack: [unknown, number][] = tokens.map((t) => [t, 0]);
  while (stack.length) {
    const [t, d] = stack.pop()!;
    if (t === null || typeof t !== 'object') continue;
    const tok = t as { type?: string; offset?: number; value?: unknown; items?: { key?: unknown; value?: unknown }[] };
    const depth = tok.type === 'block-map' || tok.type === 'block-seq' || tok.type === 'flow-collection' ? d + 1 : d;
    if (depth > MAX_DEPTH) return tok.offset ?? 0;
    if (tok.value) stack.push([tok.value, depth]);
    for (const it of tok.items ?? []) {
      if (it.key) stack.push([it.key, depth]);
      if (it.value) stack.push([it.value, depth]);
    }
  }
  return undefined;
}

const YAML_HINTS: Partial<Record<string, string>> = {
  TAB_AS_INDENT: 'indent with spaces: YAML does not allow tabs in indentation',
  BAD_INDENT: 'keys of one mapping (and items of one list) must start at the same column',
  MISSING_CHAR: 'close the quoted string',
  BLOCK_AS_IMPLICIT_KEY: "a key is a single-line scalar followed by ': '",
  MULTILINE_IMPLICIT_KEY: "a key is a single-line scalar followed by ': '",
  MULTIPLE_DOCS: 'a lab file holds one YAML document: remove the --- separator',
};

/**
 * YAML syntax errors, located where the user has to look: a duplicate key at the key itself (the
 * parser reports the end of the previous entry when that entry has no value), an unclosed flow
 * collection at its opening bracket (the parser reports where it gave up, often the end of file).
 */
function yamlProblems(text: string, doc: Document, src: SourceMap, tokens: CST.Token[]): Problem[] {
  const file = src.file;
  const problems: Problem[] = [];
  const at = (offset: number) => src.pos(offset);
  const dups: Problem[] = [];
  const unclosed: { offset: number; open: string; close: string }[] = [];
  const quotes: number[] = [];
  // Unclosed flow collections, from the concrete syntax tree: the composed document cannot tell
  // "[a, b" from "[a, [b]" when the last item closes.
  const walk = (t: unknown): void => {
    if (Array.isArray(t)) {
      for (const x of t) walk(x);
      return;
    }
    if (t === null || typeof t !== 'object') return;
    const tok = t as { type?: string; offset?: number; source?: string; start?: { source?: string }; end?: { type?: string }[] };
    if ((tok.type === 'double-quoted-scalar' || tok.type === 'single-quoted-scalar') && typeof tok.offset === 'number' && typeof tok.source === 'string') {
      const q = tok.source[0]!;
      if (tok.source.length < 2 || !tok.source.endsWith(q)) quotes.push(tok.offset);
    }
    if (tok.type === 'flow-collection' && typeof tok.offset === 'number') {
      const open = tok.start?.source === '{' ? '{' : '[';
      const closeType = open === '[' ? 'flow-seq-end' : 'flow-map-end';
      if (!(tok.end ?? []).some((e) => e.type === closeType)) unclosed.push({ offset: tok.offset, open, close: open === '[' ? ']' : '}' });
    }
    for (const v of Object.values(tok)) if (v !== null && typeof v === 'object') walk(v);
  };
  visit(doc, {
    Map(_, map) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        if (!isScalar(pair.key) || !pair.key.range) continue;
        const k = String(pair.key.value);
        const first = seen.get(k);
        if (first === undefined) seen.set(k, pair.key.range[0]);
        else
          dups.push({
            file,
            ...at(pair.key.range[0]),
            path: '',
            message: `invalid YAML: duplicate key '${k}'`,
            hint: `'${k}' is already a key of this mapping at line ${at(first).line}; each key may appear once in a mapping`,
          });
      }
    },
  });
  if (!doc.errors.length) return sortProblems(dups);
  for (const tok of tokens) walk(tok);
  for (const err of doc.errors) {
    const msg = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    if (err.code === 'BAD_INDENT' && /^Flow (sequence|map) in block collection/.test(msg)) {
      // The innermost unclosed collection that opens before the place the parser gave up.
      const u = unclosed.filter((c) => c.offset < err.pos[0]).pop();
      if (u) {
        const where = err.pos[0] >= text.trimEnd().length ? 'the end of the file' : `line ${at(err.pos[0]).line}`;
        problems.push({
          file,
          ...at(u.offset),
          path: '',
          message: `invalid YAML: this '${u.open}' is not closed: expected '${u.close}' before ${where}`,
          hint: `close it with '${u.close}'; if it continues on the next lines, indent them more than its key`,
        });
        unclosed.splice(unclosed.indexOf(u), 1);
        continue;
      }
    }
    if (err.code === 'MISSING_CHAR' && /quote/i.test(msg)) {
      const q = quotes.filter((o) => o < err.pos[0]).pop();
      if (q !== undefined) {
        const ch = text[q]!;
        problems.push({ file, ...at(q), path: '', message: `invalid YAML: this ${ch === '"' ? 'double' : 'single'}-quoted string is not closed`, hint: `end it with ${ch}` });
        continue;
      }
    }
    const hint = err.code === 'MISSING_CHAR' && !/quote/i.test(msg) ? undefined : YAML_HINTS[err.code];
    problems.push({ file, ...at(err.pos[0]), path: '', message: `invalid YAML: ${msg}`, ...(hint ? { hint } : {}) });
  }
  // Past the first syntax error the parser's view of the structure is a guess and later errors
  // mostly follow from the first; duplicate keys are independent of each other and all reported.
  const first = sortProblems(problems).slice(0, 1);
  return sortProblems([...first, ...dups]);
}
