import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defineCommand } from "citty";
import { UsageError } from "./exit.ts";
import { kebab, resolveTree, type ResolvedCommand } from "./tree.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** File names in `completions/`, where each shell looks for them. */
export const COMPLETION_FILES: Record<Shell, string> = { bash: "firezone.bash", zsh: "_firezone", fish: "firezone.fish" };

export default defineCommand({
  meta: { name: "completions", description: "Print shell completion scripts" },
  args: {
    shell: { type: "positional", required: false, valueHint: "bash|zsh|fish", description: "Shell to print the script for" },
    write: { type: "string", valueHint: "DIR", description: "Write all three scripts into DIR instead (firezone.bash, _firezone, firezone.fish)" },
  },
  async run({ args }) {
    const { rootCommand } = await import("./commands.ts");
    const root = await resolveTree(rootCommand, "firezone");
    if (args.write !== undefined) {
      if (args.shell) throw new UsageError("give either a shell or --write DIR, not both");
      mkdirSync(args.write, { recursive: true });
      for (const shell of SHELLS) writeFileSync(join(args.write, COMPLETION_FILES[shell]), completionScript(shell, root));
      process.stdout.write(`wrote ${SHELLS.map((s) => join(args.write!, COMPLETION_FILES[s])).join(", ")}\n`);
      return;
    }
    const shell = args.shell;
    if (!shell || !(SHELLS as readonly string[]).includes(shell)) {
      throw new UsageError(shell ? `unknown shell "${shell}": expected bash, zsh or fish` : "which shell? expected bash, zsh or fish (or --write DIR)");
    }
    process.stdout.write(completionScript(shell as Shell, root));
  },
});

/** What completes after a flag or in a positional slot. */
type ValueKind = { kind: "none" } | { kind: "free" } | { kind: "file" } | { kind: "dir" } | { kind: "words"; words: string[] };

interface FlagSpec {
  long: string[];
  short: string[];
  value: ValueKind;
  description: string;
}

interface CommandSpec {
  /** Space-joined subcommand path, "" for the root. */
  path: string;
  subcommands: Array<{ name: string; description: string }>;
  flags: FlagSpec[];
  positional: ValueKind;
}

/** `a|b|c` hints list the values; DIR, PATH and FILE hints complete from the file system. */
function valueKind(arg: { type?: string; valueHint?: string; options?: string[] }): ValueKind {
  if (arg.type === "boolean") return { kind: "none" };
  if (arg.type === "enum" && arg.options?.length) return { kind: "words", words: [...arg.options] };
  const hint = (arg.valueHint ?? "").replace(/\.\.\.$/, "");
  if (/^[\w.-]+(\|[\w.-]+)+$/.test(hint)) return { kind: "words", words: hint.split("|") };
  if (/^(DIR|DIRECTORY)$/i.test(hint)) return { kind: "dir" };
  if (/^(PATH|FILE)$/i.test(hint)) return { kind: "file" };
  return { kind: "free" };
}

/** Flattens the resolved tree into one entry per command, in a stable order. */
export function completionSpecs(root: ResolvedCommand): CommandSpec[] {
  const specs: CommandSpec[] = [];
  const walk = (cmd: ResolvedCommand, path: string) => {
    const flags: FlagSpec[] = [{ long: ["help"], short: ["h"], value: { kind: "none" }, description: "Show help" }];
    let positional: ValueKind = { kind: "none" };
    for (const [name, arg] of Object.entries(cmd.args)) {
      if (arg.type === "positional") {
        if (positional.kind === "none") positional = valueKind(arg);
        continue;
      }
      const aliases = "alias" in arg && arg.alias ? (Array.isArray(arg.alias) ? arg.alias : [arg.alias]) : [];
      const spec: FlagSpec = {
        long: [kebab(name), ...aliases.filter((a) => a.length > 1)],
        short: aliases.filter((a) => a.length === 1),
        value: valueKind(arg),
        description: arg.description ?? "",
      };
      flags.push(spec);
      // Only a flag that is on by default needs its negation offered.
      if (arg.type === "boolean" && arg.default === true) {
        const negative = "negativeDescription" in arg && arg.negativeDescription ? arg.negativeDescription : `Turn off --${kebab(name)}`;
        flags.push({ long: [`no-${kebab(name)}`], short: [], value: { kind: "none" }, description: negative });
      }
    }
    const visible = [...cmd.subCommands.entries()].filter(([, sub]) => !sub.meta.hidden);
    specs.push({
      path,
      subcommands: visible.map(([name, sub]) => ({ name, description: sub.meta.description ?? "" })),
      flags,
      positional,
    });
    for (const [name, sub] of visible) walk(sub, path ? `${path} ${name}` : name);
  };
  walk(root, "");
  return specs;
}

export function completionScript(shell: Shell, root: ResolvedCommand): string {
  const specs = completionSpecs(root);
  if (shell === "bash") return bashScript(specs);
  if (shell === "zsh") return zshScript(specs);
  return fishScript(specs);
}

const HEADER = "generated by `firezone completions`; regenerate with `bun run gen:completions`, do not edit";

function flagWords(f: FlagSpec): string[] {
  return [...f.long.map((l) => `--${l}`), ...f.short.map((s) => `-${s}`)];
}

/** Single-quoted for sh-family shells. */
function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function valueToken(v: ValueKind): string {
  switch (v.kind) {
    case "words":
      return v.words.join(" ");
    case "file":
      return "__file";
    case "dir":
      return "__dir";
    default:
      return "";
  }
}

/** Shared case tables: subcommands, flags, value-taking flags, flag values, positional values. */
function shCases(specs: CommandSpec[], fn: string, body: (s: CommandSpec) => string | undefined): string {
  const arms = specs
    .map((s) => [s.path, body(s)] as const)
    .filter(([, v]) => v !== undefined && v !== "")
    .map(([path, v]) => `    ${sq(path)}) ${v} ;;`);
  return `${fn}() {\n  case "$1" in\n${arms.join("\n")}\n  esac\n}\n`;
}

function bashScript(specs: CommandSpec[]): string {
  const valueFlags = (s: CommandSpec) => s.flags.filter((f) => f.value.kind !== "none").flatMap(flagWords);
  const flagValueArms = specs.flatMap((s) =>
    s.flags.filter((f) => f.value.kind !== "none").flatMap((f) => flagWords(f).map((w) => `    ${sq(`${s.path}|${w}`)}) echo ${sq(valueToken(f.value))} ;;`)),
  );
  return `# bash completion for firezone (${HEADER})
${shCases(specs, "_firezone_subcommands", (s) => (s.subcommands.length ? `echo ${sq(s.subcommands.map((c) => c.name).join(" "))}` : undefined))}
${shCases(specs, "_firezone_flags", (s) => `echo ${sq(s.flags.flatMap(flagWords).join(" "))}`)}
${shCases(specs, "_firezone_value_flags", (s) => (valueFlags(s).length ? `echo ${sq(valueFlags(s).join(" "))}` : undefined))}
_firezone_flag_values() {
  case "$1|$2" in
${flagValueArms.join("\n")}
  esac
}

${shCases(specs, "_firezone_positional", (s) => (valueToken(s.positional) ? `echo ${sq(valueToken(s.positional))}` : undefined))}
_firezone_reply() {
  case "$1" in
    __file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$2")) ;;
    __dir) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$2")) ;;
    *) COMPREPLY=($(compgen -W "$1" -- "$2")) ;;
  esac
}

_firezone() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" i w skip=0 prev=""
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; [[ "$w" == "=" ]] && skip=1; continue; fi
    case "$w" in
      --*=*) continue ;;
      -*) [[ " $(_firezone_value_flags "$cmdpath") " == *" $w "* ]] && skip=1; continue ;;
    esac
    [[ " $(_firezone_subcommands "$cmdpath") " == *" $w "* ]] && cmdpath="\${cmdpath:+$cmdpath }$w"
  done
  ((COMP_CWORD > 0)) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # bash splits --flag=value at "=" (COMP_WORDBREAKS): the flag is the word before it.
  if [[ "$prev" == "=" ]] && ((COMP_CWORD > 1)); then prev="\${COMP_WORDS[COMP_CWORD-2]}"; fi
  if [[ "$cur" == "=" ]]; then prev="\${COMP_WORDS[COMP_CWORD-1]}"; cur=""; fi
  if [[ "$prev" == -* && " $(_firezone_value_flags "$cmdpath") " == *" $prev "* ]]; then
    _firezone_reply "$(_firezone_flag_values "$cmdpath" "$prev")" "$cur"
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    _firezone_reply "$(_firezone_flags "$cmdpath")" "$cur"
    return 0
  fi
  local subs
  subs="$(_firezone_subcommands "$cmdpath")"
  if [[ -n "$subs" ]]; then
    _firezone_reply "$subs" "$cur"
  else
    _firezone_reply "$(_firezone_positional "$cmdpath")" "$cur"
  fi
  return 0
}

complete -F _firezone firezone
`;
}

function zshScript(specs: CommandSpec[]): string {
  const zq = sq;
  const arr = (items: string[]) => items.map(zq).join(" ");
  const cases = (fn: string, body: (s: CommandSpec) => string[] | undefined) => {
    const arms = specs
      .map((s) => [s.path, body(s)] as const)
      .filter(([, v]) => v && v.length)
      .map(([path, v]) => `    ${zq(path)}) reply=(${arr(v!)}) ;;`);
    return `_firezone_${fn}() {\n  reply=()\n  case "$1" in\n${arms.join("\n")}\n  esac\n}\n`;
  };
  const flagValueArms = specs.flatMap((s) =>
    s.flags.filter((f) => f.value.kind !== "none").flatMap((f) => flagWords(f).map((w) => `    ${zq(`${s.path}|${w}`)}) reply=(${zq(valueToken(f.value))}) ;;`)),
  );
  return `#compdef firezone
# zsh completion for firezone (${HEADER})

${cases("subcommands", (s) => s.subcommands.map((c) => c.name))}
${cases("subcommand_descriptions", (s) => s.subcommands.map((c) => `${c.name} -- ${c.description}`))}
${cases("flags", (s) => s.flags.flatMap(flagWords))}
${cases("flag_descriptions", (s) => s.flags.flatMap((f) => flagWords(f).map((w) => `${w} -- ${f.description}`)))}
${cases("value_flags", (s) => s.flags.filter((f) => f.value.kind !== "none").flatMap(flagWords))}
_firezone_flag_values() {
  reply=()
  case "$1|$2" in
${flagValueArms.join("\n")}
  esac
}

${cases("positional", (s) => (valueToken(s.positional) ? [valueToken(s.positional)] : undefined))}
_firezone_values() {
  case "$1" in
    __file) _files ;;
    __dir) _files -/ ;;
    '') return 1 ;;
    *) local -a vals; vals=(\${=1}); compadd -- "\${vals[@]}" ;;
  esac
}

_firezone() {
  local cmdpath="" w cur prev i skip=0
  local -a reply names descs
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    if ((skip)); then skip=0; continue; fi
    case $w in
      --*=*) continue ;;
      -*) _firezone_value_flags "$cmdpath"; (( \${reply[(Ie)$w]} )) && skip=1; continue ;;
    esac
    _firezone_subcommands "$cmdpath"
    (( \${reply[(Ie)$w]} )) && cmdpath="\${cmdpath:+$cmdpath }$w"
  done
  cur=\${words[CURRENT]}
  prev=\${words[CURRENT-1]}
  if [[ $cur == --*=* ]]; then
    _firezone_flag_values "$cmdpath" "\${cur%%=*}"
    compset -P '*='
    _firezone_values "$reply[1]"
    return
  fi
  if [[ $prev == -* ]]; then
    _firezone_value_flags "$cmdpath"
    if (( \${reply[(Ie)$prev]} )); then
      _firezone_flag_values "$cmdpath" "$prev"
      _firezone_values "$reply[1]"
      return
    fi
  fi
  if [[ $cur == -* ]]; then
    _firezone_flags "$cmdpath"; names=("\${reply[@]}")
    _firezone_flag_descriptions "$cmdpath"; descs=("\${reply[@]}")
    compadd -l -d descs -- "\${names[@]}"
    return
  fi
  _firezone_subcommands "$cmdpath"
  if (( \${#reply} )); then
    names=("\${reply[@]}")
    _firezone_subcommand_descriptions "$cmdpath"; descs=("\${reply[@]}")
    compadd -l -d descs -- "\${names[@]}"
    return
  fi
  _firezone_positional "$cmdpath"
  _firezone_values "$reply[1]"
}

if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _firezone "$@"
else
  (( \${+functions[compdef]} )) && compdef _firezone firezone
fi
`;
}

function fishScript(specs: CommandSpec[]): string {
  const fq = sq;
  const switchFn = (name: string, body: (s: CommandSpec) => string[] | undefined) => {
    const arms = specs
      .map((s) => [s.path, body(s)] as const)
      .filter(([, v]) => v && v.length)
      .map(([path, v]) => `        case ${fq(path)}\n            printf '%s\\n' ${v!.map(fq).join(" ")}`);
    return `function ${name}\n    switch "$argv[1]"\n${arms.join("\n")}\n    end\nend\n`;
  };
  const lines: string[] = [];
  for (const s of specs) {
    const cond = fq(`__firezone_at ${fq(s.path)}`);
    for (const c of s.subcommands) lines.push(`complete -c firezone -n ${cond} -f -a ${fq(c.name)} -d ${fq(c.description)}`);
    for (const f of s.flags) {
      let line = `complete -c firezone -n ${cond}`;
      for (const l of f.long) line += ` -l ${fq(l)}`;
      for (const sh of f.short) line += ` -s ${fq(sh)}`;
      if (f.value.kind === "words") line += ` -x -a ${fq(f.value.words.join(" "))}`;
      else if (f.value.kind === "dir") line += ` -x -a '(__fish_complete_directories)'`;
      else if (f.value.kind === "file") line += " -r -F";
      else if (f.value.kind === "free") line += " -x";
      lines.push(`${line} -d ${fq(f.description)}`);
    }
    if (s.positional.kind === "words") lines.push(`complete -c firezone -n ${cond} -f -a ${fq(s.positional.words.join(" "))}`);
    else if (s.positional.kind === "file") lines.push(`complete -c firezone -n ${cond} -F`);
    else if (s.positional.kind === "dir") lines.push(`complete -c firezone -n ${cond} -f -a '(__fish_complete_directories)'`);
  }
  return `# fish completion for firezone (${HEADER})

${switchFn("__firezone_subcommands", (s) => s.subcommands.map((c) => c.name))}
${switchFn("__firezone_value_flags", (s) => s.flags.filter((f) => f.value.kind !== "none").flatMap(flagWords))}
# The subcommand path typed so far, e.g. "" or "logs".
function __firezone_path
    set -l tokens (commandline -opc)
    set -l cmdpath ''
    set -l skip 0
    for w in $tokens[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case '--*=*'
                continue
            case '-*'
                if contains -- $w (__firezone_value_flags "$cmdpath")
                    set skip 1
                end
                continue
        end
        if contains -- $w (__firezone_subcommands "$cmdpath")
            if test -z "$cmdpath"
                set cmdpath $w
            else
                set cmdpath "$cmdpath $w"
            end
        end
    end
    echo $cmdpath
end

function __firezone_at
    test (__firezone_path) = "$argv[1]"
end

complete -c firezone -f
${lines.join("\n")}
`;
}
