/** Exit codes, the same for every subcommand (documented in the README). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Bad command line: unknown command or flag, bad value. Exits with status 2. */
export class UsageError extends Error {
  readonly exitCode = EXIT_USAGE;
}

/** A failure a person can act on, reported as one line without a stack. Exits with status 1. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT_FAILURE) {
    super(message);
  }
}
