/** The exit codes of `kdm`, documented in README "Client and CLI". */
export const EXIT = {
  OK: 0,
  /** The API refused or could not be reached, the input was wrong, or what we waited for ended FAILURE. */
  FAILED: 1,
  /** Waiting ran out of time (also: Node too old, as every entry point of this project). */
  TIMEOUT: 2,
} as const;

/** `kdm diff` answers as `kubectl diff` does, so scripts written for it keep working. */
export const DIFF_EXIT = {
  SAME: 0,
  CHANGED: 1,
  /** Anything went wrong: refused, unreachable, bad input or usage. */
  ERROR: 2,
} as const;

/** A refusal worth one line on stderr, not a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILED,
  ) {
    super(message);
  }
}
