/**
 * How a failed host tool is reported, in one place: the runner throws a CommandError whose message names the
 * command, its argv and what the tool said; callers that add their own context use `failureReason` (the tool's
 * words, without argv) or `commandFailure` (context + reason, a plain Error: an internal failure, code 999).
 */

/** A tool that exited non-zero or could not be started (exitCode null). */
export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly stdout = '',
  ) {
    super(`${cmd} ${args.join(' ')}: ${stderr.trim() || `exit code ${exitCode}`}`);
    this.name = 'CommandError';
  }
}

/** `ip -batch`/`tc -batch` end their stderr with the number of the line they stopped at. */
const BATCH_TRAILER = /^Command failed -:\d+$/;

/**
 * Why a command failed, on one line: the tool's stderr without the batch trailer (lines joined by `; `),
 * else the error's message. For any other error, its message.
 */
export function failureReason(err: unknown): string {
  if (err instanceof CommandError) {
    const said = err.stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !BATCH_TRAILER.test(l));
    return said.join('; ') || err.message;
  }
  return String((err as Error)?.message ?? err);
}

/** `<what>: <reason>` as a plain Error (the skeleton reports it as the generic error 999), the original as its cause. */
export const commandFailure = (what: string, err: unknown): Error =>
  new Error(`${what}: ${failureReason(err)}`, { cause: err });
