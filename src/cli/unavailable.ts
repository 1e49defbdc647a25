import { defineCommand, type ArgsDef } from "citty";
import { CliError, EXIT_USAGE } from "./exit.ts";

/**
 * A subcommand whose role is not built yet. It has a real `--help` and fails with one clear line
 * and exit status 2, so scripts can tell "not available" from a runtime failure.
 */
export function unavailableCommand(name: string, description: string, args: ArgsDef = {}) {
  return defineCommand({
    meta: { name, description },
    args,
    run() {
      throw new CliError(`"firezone ${name}" is not available yet in this build`, EXIT_USAGE);
    },
  });
}
