import type { Command, Option } from 'commander';

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

interface Node {
  path: string;
  /** Subcommand names and aliases, mapped to the subcommand's path. */
  subs: Map<string, string>;
  /** Words offered after the command: subcommands, or an argument's choices. */
  words: string[];
  options: string[];
}

const flags = (o: Option) => [o.short, o.long].filter((f): f is string => Boolean(f));

/** The command tree, walked from the program, so the script always matches the commands. */
function walk(
  cmd: Command,
  path: string,
  inherited: readonly Option[],
  out: Node[],
  choices: Map<string, string[]>,
): void {
  const options = [...inherited, ...cmd.options];
  for (const o of cmd.options) if (o.argChoices) for (const f of flags(o)) choices.set(f, o.argChoices);
  const subs = new Map<string, string>();
  for (const sub of cmd.commands) {
    const subPath = path ? `${path} ${sub.name()}` : sub.name();
    for (const n of [sub.name(), ...sub.aliases()]) subs.set(n, subPath);
  }
  const argChoices = cmd.registeredArguments[0]?.argChoices ?? [];
  out.push({
    path,
    subs,
    words: cmd.commands.length > 0 ? cmd.commands.map((c) => c.name()) : argChoices,
    options: [...options.flatMap(flags), '--help'],
  });
  for (const sub of cmd.commands) walk(sub, subs.get(sub.name())!, options, out, choices);
}

function bash(program: Command): string {
  const nodes: Node[] = [];
  const choices = new Map<string, string[]>();
  walk(program, '', [], nodes, choices);
  const q = (s: string) => `'${s}'`;
  const descend = nodes.flatMap((n) =>
    [...n.subs].map(([name, to]) => `      ${q(`${n.path}:${name}`)}) path=${q(to)} ;;`),
  );
  const values = [...choices].map(
    ([flag, vs]) => `    ${flag}) COMPREPLY=($(compgen -W ${q(vs.join(' '))} -- "$cur")); return ;;`,
  );
  const words = nodes.map((n) => `    ${q(n.path)}) subs=${q(n.words.join(' '))}; opts=${q(n.options.join(' '))} ;;`);
  return `# kdm completion for bash: source <(kdm completion bash)
_kdm() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path="" subs="" opts="" i
  case "$prev" in
${values.join('\n')}
    -f|--filename) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "$path:\${COMP_WORDS[i]}" in
${descend.join('\n')}
    esac
  done
  case "$path" in
${words.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  fi
}
complete -o default -F _kdm kdm
`;
}

/** A completion script for `shell`; zsh runs the bash one through bashcompinit. */
export function completionScript(program: Command, shell: Shell): string {
  if (shell === 'bash') return bash(program);
  return `#compdef kdm
# kdm completion for zsh: source <(kdm completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(program)}`;
}
