// Commands as a shell reads them (pure): the one quoter for every printed command and for the
// runner's batched shells.

/** Shell-quotes argv for display, so printed commands can be pasted into a shell. */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** A command as a shell would run it, with its standard input as a here-document. */
export function commandText(argv: string[], input?: string): string {
  if (input === undefined) return shellQuote(argv);
  const body = input.endsWith('\n') ? input : `${input}\n`;
  return `${shellQuote(argv)} <<'EOF'\n${body}EOF`;
}
