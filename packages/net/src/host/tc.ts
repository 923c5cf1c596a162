import { jsonArray } from './ip-json';
import { run } from './runner';
import { token } from './safe-arg';

export interface Qdisc {
  kind: string;
  handle: string;
  root?: boolean;
  parent?: string;
  options?: Record<string, unknown>;
}

/** `tc -j <args>` parsed. */
export async function tcJson<T = unknown>(args: readonly string[], netns?: string): Promise<T> {
  const { stdout } = await run('tc', ['-j', ...args], { netns });
  return jsonArray(stdout) as T;
}

export const listQdiscs = (dev: string, netns?: string): Promise<Qdisc[]> =>
  tcJson<Qdisc[]>(['qdisc', 'show', 'dev', dev], netns);

/**
 * Several tc commands in one process (`tc -batch -`); returns tc's stdout. With `json`, every `show`
 * command prints one JSON array on its own line (parse them with `jsonArrays`).
 */
export async function tcBatch(
  commands: readonly (readonly (string | number)[])[],
  netns?: string,
  opts: { json?: boolean } = {},
): Promise<string> {
  if (commands.length === 0) return '';
  const { stdout } = await run('tc', [...(opts.json ? ['-j'] : []), '-batch', '-'], {
    input: batchScript(commands),
    netns,
  });
  return stdout;
}

/** An iproute2 `-batch` script (`ip` and `tc` read the same format): one command a line, every token checked. */
export const batchScript = (commands: readonly (readonly (string | number)[])[]): string =>
  commands.map((c) => c.map((t) => token(t)).join(' ')).join('\n') + '\n';

/** Line number (1-based) of the command a failed `ip -batch`/`tc -batch` stopped at, from its `Command failed -:N`. */
export function failedBatchLine(err: unknown): number | undefined {
  const m = /Command failed -:(\d+)/.exec(String((err as { stderr?: string })?.stderr ?? ''));
  return m ? Number(m[1]) : undefined;
}
