// `netlab completion bash|zsh`: a completion script made from the commands and options the CLI
// really has (commander's own tree), so it cannot drift. It completes commands, their options,
// the names of labs that are up (their journals) and lab files; zsh runs it through bashcompinit.
import { Argument, type Command } from 'commander';
import { shellQuote } from '../core/shell.js';

export const SHELLS = ['bash', 'zsh'] as const;

/** The bash completion function for a program's commands. */
export function completionScript(program: Command, shell: (typeof SHELLS)[number]): string {
  const cmds = program.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
  const cases = cmds.map((c) => {
    const opts = c.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f));
    return `    ${c.name()}) opts=${shellQuote([[...opts, '--help'].join(' ')])} ;;`;
  });
  const lines = [
    '# netlab shell completion; load it with:',
    shell === 'bash' ? '#   source <(netlab completion bash)     (or save it in /etc/bash_completion.d/netlab)' : '#   source <(netlab completion zsh)      (in ~/.zshrc)',
    ...(shell === 'zsh' ? ['autoload -U +X bashcompinit && bashcompinit'] : []),
    '_netlab() {',
    '  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} opts=""',
    '  if [ "$COMP_CWORD" -eq 1 ]; then',
    `    COMPREPLY=($(compgen -W ${shellQuote([cmds.map((c) => c.name()).join(' ')])} -- "$cur"))`,
    '    return',
    '  fi',
    '  case $cmd in',
    ...cases,
    '  esac',
    '  case $cur in',
    '    -*) COMPREPLY=($(compgen -W "$opts" -- "$cur")); return ;;',
    '  esac',
    '  local labs',
    '  labs=$(cd "${NETLAB_STATE_DIR:-/run/netlab}/labs" 2>/dev/null && for f in *.json; do [ -e "$f" ] && echo "${f%.json}"; done)',
    '  COMPREPLY=($(compgen -W "$labs" -- "$cur") $(compgen -f -X \'!*.y*ml\' -- "$cur") $(compgen -d -- "$cur"))',
    '}',
    'complete -o filenames -F _netlab netlab',
  ];
  return `${lines.join('\n')}\n`;
}

export function registerCompletion(program: Command, out: (s: string) => void): void {
  program
    .command('completion')
    .description('print a shell completion script for bash or zsh')
    .addArgument(new Argument('<shell>', 'bash | zsh').choices([...SHELLS]))
    .addHelpText(
      'after',
      `
Examples:
  source <(netlab completion bash)                       # this shell
  netlab completion bash > /etc/bash_completion.d/netlab # every new bash
  echo 'source <(netlab completion zsh)' >> ~/.zshrc`,
    )
    .action((shell: (typeof SHELLS)[number]) => out(completionScript(program, shell).trimEnd()));
}
