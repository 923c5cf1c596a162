import { jsonArray } from './ip-json';
import { CommandError, run } from './runner';
import { token } from './safe-arg';

/** `ip -j <args>` parsed; `netns` runs it inside a namespace. */
export async function ipJson<T>(args: readonly string[], netns?: string): Promise<T> {
  const { stdout } = await run('ip', ['-j', ...args], { netns });
  return jsonArray(stdout) as T;
}

/**
 * Many `ip` commands in one process (`ip -batch -`). Each command is an argument array; every
 * token is checked so nothing can smuggle a second command into the batch.
 */
export async function ipBatch(
  commands: readonly (readonly (string | number)[])[],
  netns?: string,
  opts: { force?: boolean; json?: boolean; family?: 4 | 6 } = {},
): Promise<string> {
  if (commands.length === 0) return '';
  const script = commands.map((c) => c.map((t) => token(t)).join(' ')).join('\n') + '\n';
  const flags = [
    ...(opts.force ? ['-force'] : []),
    ...(opts.json ? ['-j'] : []),
    ...(opts.family ? [`-${opts.family}`] : []),
  ];
  const { stdout } = await run('ip', [...flags, '-batch', '-'], { input: script, netns });
  return stdout;
}

/** True when an `ip` error says the object is not there. */
export function isNotFound(err: unknown): boolean {
  return (
    err instanceof CommandError &&
    /does not exist|Cannot find device|No such (device|file|process)|not found|Cannot open network namespace/i.test(
      err.stderr,
    )
  );
}

export function isExists(err: unknown): boolean {
  return err instanceof CommandError && /File exists|already exists|already assigned/i.test(err.stderr);
}
