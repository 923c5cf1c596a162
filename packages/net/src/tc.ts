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

/** Several tc commands in one process (`tc -batch -`). */
export async function tcBatch(commands: readonly (readonly (string | number)[])[], netns?: string): Promise<void> {
  if (commands.length === 0) return;
  const script = commands.map((c) => c.map((t) => token(t)).join(' ')).join('\n') + '\n';
  await run('tc', ['-batch', '-'], { input: script, netns });
}
