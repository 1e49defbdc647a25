import type { ArgsDef, CommandDef, CommandMeta } from "citty";

/** A command with everything resolved, so help, validation and completions share one view. */
export interface ResolvedCommand {
  name: string;
  meta: CommandMeta;
  args: ArgsDef;
  subCommands: Map<string, ResolvedCommand>;
  def: CommandDef<any>;
}

async function value<T>(v: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

/**
 * Resolves lazily imported subcommands recursively: all of them (completions need the whole
 * tree), or with `argv` only those on the path it names, so `firezone logs` does not import
 * the data plane. Subcommands off that path keep their name (for "did you mean") and nothing else.
 */
export async function resolveTree(def: CommandDef<any>, name: string, argv?: string[]): Promise<ResolvedCommand> {
  const meta = (await value(def.meta)) ?? {};
  const args = ((await value(def.args)) ?? {}) as ArgsDef;
  const subs = ((await value(def.subCommands)) ?? {}) as Record<string, unknown>;
  const subCommands = new Map<string, ResolvedCommand>();
  // `firezone --version` runs the version subcommand.
  const next = argv?.[0] === "--version" ? "version" : argv?.[0];
  // A flag or an unknown word first: help and suggestions need only names, unless it may be an alias.
  const mayBeAlias = next !== undefined && !next.startsWith("-") && !(next in subs);
  for (const [subName, sub] of Object.entries(subs)) {
    if (argv !== undefined && subName !== next && !mayBeAlias) {
      subCommands.set(subName, { name: subName, meta: { name: subName }, args: {}, subCommands: new Map(), def: sub as CommandDef<any> });
      continue;
    }
    const subDef = (await value(sub as CommandDef<any>)) as CommandDef<any>;
    subCommands.set(subName, await resolveTree(subDef, subName, argv === undefined ? undefined : subName === next ? argv.slice(1) : []));
  }
  return { name: meta.name ?? name, meta, args, subCommands, def };
}

/** The flags a command accepts, long names with their aliases, as typed on a command line. */
export function flagNames(cmd: ResolvedCommand): string[] {
  const out: string[] = ["--help"];
  for (const [name, arg] of Object.entries(cmd.args)) {
    if (arg.type === "positional") continue;
    out.push(`--${kebab(name)}`);
    if (arg.type === "boolean") out.push(`--no-${kebab(name)}`);
    const aliases = "alias" in arg && arg.alias ? (Array.isArray(arg.alias) ? arg.alias : [arg.alias]) : [];
    for (const a of aliases) out.push(a.length === 1 ? `-${a}` : `--${a}`);
  }
  return out;
}

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
