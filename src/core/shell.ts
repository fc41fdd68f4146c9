// Commands as a shell reads them (pure): the one quoter for every printed command and for the
// runner's batched shells.

/** One word as sh reads it: as is when it holds nothing special, else single-quoted. */
export function shellWord(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Shell-quotes argv for display, so printed commands can be pasted into a shell. */
export function shellQuote(argv: string[]): string {
  return argv.map(shellWord).join(' ');
}

/** A command as a shell would run it, with its standard input as a here-document ended by `delim`. */
export function commandText(argv: string[], input?: string, delim = 'EOF'): string {
  if (input === undefined) return shellQuote(argv);
  const body = input.endsWith('\n') || !input ? input : `${input}\n`;
  return `${shellQuote(argv)} <<'${delim}'\n${body}${delim}`;
}
