import { renderUsage, runCommand } from "citty";
import { consola } from "consola";
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from "./exit.ts";
import { closest } from "./suggest.ts";
import { flagNames, kebab, type ResolvedCommand } from "./tree.ts";

/**
 * Runs the command line against the resolved tree. citty parses and dispatches; this adds what
 * citty leaves out: unknown commands and flags are usage errors naming the closest valid one, and
 * every failure maps to one exit code (0 ok, 1 runtime failure, 2 usage).
 */
export async function runCli(root: ResolvedCommand, argv: string[]): Promise<number> {
  try {
    const { cmd, path, rest } = locate(root, argv);
    if (rest.includes("--help") || rest.includes("-h") || (cmd.subCommands.size > 0 && !cmd.def.run)) {
      const helpWanted = rest.includes("--help") || rest.includes("-h");
      const usage = await renderUsage({ ...cmd.def, meta: { ...cmd.meta, name: path.join(" ") } });
      process.stdout.write((plainOutput() ? stripAnsi(usage) : usage) + "\n");
      if (!helpWanted && rest.length === 0 && path.length > 1) return EXIT_USAGE;
      return helpWanted || path.length === 1 ? EXIT_OK : EXIT_USAGE;
    }
    validateFlags(cmd, path, rest);
    const { result } = await runCommand(cmd.def, { rawArgs: rest });
    return typeof result === "number" ? result : EXIT_OK;
  } catch (error) {
    return report(error);
  }
}

function locate(root: ResolvedCommand, argv: string[]): { cmd: ResolvedCommand; path: string[]; rest: string[] } {
  let cmd = root;
  const path = [root.name];
  let i = 0;
  while (cmd.subCommands.size > 0 && i < argv.length) {
    const token = argv[i]!;
    if (token === "--help" || token === "-h" || token === "--version") break;
    if (token.startsWith("-")) {
      throw new UsageError(`unknown flag ${token} for "${path.join(" ")}"; run "${path.join(" ")} --help"`);
    }
    const sub = cmd.subCommands.get(token) ?? findAlias(cmd, token);
    if (!sub) {
      const hint = closest(token, cmd.subCommands.keys());
      throw new UsageError(
        `unknown command "${token}" for "${path.join(" ")}"` +
          (hint ? `; did you mean "${hint}"?` : `; commands: ${[...cmd.subCommands.keys()].join(", ")}`),
      );
    }
    cmd = sub;
    path.push(sub.name);
    i++;
  }
  if (argv[i] === "--version" && path.length === 1) return { cmd: root.subCommands.get("version") ?? root, path: [...path, "version"], rest: [] };
  return { cmd, path, rest: argv.slice(i) };
}

function findAlias(cmd: ResolvedCommand, token: string): ResolvedCommand | undefined {
  for (const sub of cmd.subCommands.values()) {
    const alias = sub.meta.alias;
    if (alias && (Array.isArray(alias) ? alias.includes(token) : alias === token)) return sub;
  }
  return undefined;
}

function validateFlags(cmd: ResolvedCommand, path: string[], rest: string[]): void {
  const known = new Set(flagNames(cmd));
  const valueFlags = new Set<string>();
  for (const [name, arg] of Object.entries(cmd.args)) {
    if (arg.type !== "string" && arg.type !== "enum") continue;
    valueFlags.add(`--${kebab(name)}`);
    const aliases = "alias" in arg && arg.alias ? (Array.isArray(arg.alias) ? arg.alias : [arg.alias]) : [];
    for (const a of aliases) valueFlags.add(a.length === 1 ? `-${a}` : `--${a}`);
  }
  const positionals = Object.values(cmd.args).filter((a) => a.type === "positional").length;
  let seenPositionals = 0;
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i]!;
    if (token === "--") break;
    if (token === "-" || !token.startsWith("-") || /^-\d/.test(token)) {
      seenPositionals++;
      continue;
    }
    const flag = token.includes("=") ? token.slice(0, token.indexOf("=")) : token;
    if (!known.has(flag)) {
      const hint = closest(flag, known);
      throw new UsageError(`unknown flag ${flag} for "${path.join(" ")}"` + (hint ? `; did you mean ${hint}?` : ""));
    }
    if (valueFlags.has(flag) && !token.includes("=")) {
      if (i + 1 >= rest.length) throw new UsageError(`flag ${flag} needs a value`);
      i++;
    }
  }
  const variadic = Object.values(cmd.args).some((a) => a.type === "positional" && a.valueHint?.endsWith("..."));
  if (seenPositionals > positionals && !variadic) {
    throw new UsageError(`too many arguments for "${path.join(" ")}"; run "${path.join(" ")} --help"`);
  }
}

function report(error: unknown): number {
  if (error instanceof UsageError || (error as { name?: string })?.name === "CLIError") {
    consola.error(stripAnsi((error as Error).message));
    return EXIT_USAGE;
  }
  if (error instanceof CliError) {
    consola.error(error.message);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  consola.error(message);
  if (process.env.FIREZONE_DEBUG && error instanceof Error && error.stack) process.stderr.write(error.stack + "\n");
  return EXIT_FAILURE;
}

/** Help is plain text when piped or when NO_COLOR is set (https://no-color.org). */
function plainOutput(): boolean {
  return !process.stdout.isTTY || Boolean(process.env.NO_COLOR);
}

function stripAnsi(s: string): string {
  return s.replace(/\x1b\[[0-9;]*m/g, "");
}
