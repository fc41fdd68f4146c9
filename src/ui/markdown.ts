// The little Markdown a step's explanation uses, for a terminal: **bold**, `code`, *emphasis*,
// list items (- or *, and 1.), headings (#) as bold lines. Pure: lines of styled segments that the
// Ink view draws; anything else is shown as written.

export interface Segment {
  text: string;
  bold?: boolean;
  code?: boolean;
  italic?: boolean;
}

export interface MdLine {
  /** Indentation before the bullet (nested items). */
  indent: number;
  /** "• " or "1. " for a list item. */
  bullet?: string;
  segments: Segment[];
}

const INLINE = /(\*\*[^*]+\*\*|__[^_]+__|`[^`]+`|\*[^*\s][^*]*\*)/g;

export function inline(text: string): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > at) out.push({ text: text.slice(at, m.index) });
    const t = m[0];
    if (t.startsWith('`')) out.push({ text: t.slice(1, -1), code: true });
    else if (t.startsWith('**') || t.startsWith('__')) out.push({ text: t.slice(2, -2), bold: true });
    else out.push({ text: t.slice(1, -1), italic: true });
    at = m.index + t.length;
  }
  if (at < text.length) out.push({ text: text.slice(at) });
  return out;
}

export function markdownLines(md: string): MdLine[] {
  const lines = md.replace(/\s+$/, '').split('\n');
  return lines.map((raw) => {
    const indent = raw.length - raw.trimStart().length;
    const line = raw.trim();
    const item = /^([-*+]|\d+[.)])\s+(.*)$/.exec(line);
    if (item) return { indent, bullet: /^\d/.test(item[1]!) ? `${item[1]} ` : '• ', segments: inline(item[2]!) };
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) return { indent, segments: [{ text: heading[1]!, bold: true }] };
    return { indent, segments: inline(line) };
  });
}

/** The same lines as plain text (no styles), e.g. for a terminal without colour. */
export const plainLine = (l: MdLine): string => `${' '.repeat(l.indent)}${l.bullet ?? ''}${l.segments.map((s) => s.text).join('')}`;
