import { CommanderError } from 'commander';
import { buildProgram, type Io } from './commands.js';
import { CliError, EXIT } from './cli-error.js';

/** Runs `kdm` with `argv` (as process.argv) and returns its exit code; output goes through `io`. */
export async function runKdm(argv: string[], io: Omit<Io, 'exitCode'>): Promise<number> {
  const state: Io = { ...io, exitCode: EXIT.OK };
  const program = buildProgram(state);
  try {
    await program.parseAsync(argv);
    return state.exitCode;
  } catch (e) {
    // Commander has already printed usage errors and help; its exit code is 0 for --help and --version.
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof CliError) {
      io.err(`kdm: ${e.message}`);
      return e.exitCode;
    }
    io.err(`kdm: ${e instanceof Error ? e.message : String(e)}`.split('\n')[0]);
    return EXIT.FAILED;
  }
}

process.exitCode = await runKdm(process.argv, {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
});
