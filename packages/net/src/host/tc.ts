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
  return (stdout.trim() ? JSON.parse(stdout) : []) as T;
}

export const listQdiscs = (dev: string, netns?: string): Promise<Qdisc[]> => tcJson<Qdisc[]>(['qdisc', 'show', 'dev', dev], netns);

/**
 * Several tc commands in one process (`tc -batch -`); returns tc's stdout. With `json`, every `show`
 * command prints one JSON array on its own line (parse them with `parseJsonLines`).
 */
export async function tcBatch(commands: readonly (readonly (string | number)[])[], netns?: string, opts: { json?: boolean } = {}): Promise<string> {
  if (commands.length === 0) return '';
  const script = commands.map((c) => c.map((t) => token(t)).join(' ')).join('\n') + '\n';
  const { stdout } = await run('tc', [...(opts.json ? ['-j'] : []), '-batch', '-'], { input: script, netns });
  return stdout;
}

/** The JSON arrays a `-j -batch` run of ip or tc prints, one per `show` command. */
export const parseJsonLines = <T = unknown>(stdout: string): T[][] =>
  stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T[]);

/** Line number (1-based) of the command a failed `ip -batch`/`tc -batch` stopped at, from its `Command failed -:N`. */
export function failedBatchLine(err: unknown): number | undefined {
  const m = /Command failed -:(\d+)/.exec(String((err as { stderr?: string })?.stderr ?? ''));
  return m ? Number(m[1]) : undefined;
}
