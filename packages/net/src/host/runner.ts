import { spawnCollect } from '@tscni/cni/platform-spawn';
import { CommandError } from './command-error';

export { CommandError } from './command-error';

export interface RunOptions {
  /** Written to the command's stdin (batch scripts). */
  input?: string;
  /** Run inside this network namespace (a path such as /var/run/netns/x or /proc/<pid>/ns/net). */
  netns?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs one command from an argument array (never a shell string). Throws CommandError on a non-zero exit. */
export type CommandRunner = (cmd: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;

/** Tools that enter a namespace pinned under /var/run/netns themselves (`-n NAME`): one exec instead of two. */
const SELF_ENTERING = new Set(['ip', 'tc']);
const PINNED = /^\/(?:var\/)?run\/netns\/([A-Za-z0-9_][A-Za-z0-9_.-]*)$/;

/** The argv that runs `cmd` inside the network namespace at `netns`: `ip -n NAME`/`tc -n NAME`, else `nsenter`. */
export function inNetns(netns: string | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  if (!netns) return [cmd, [...args]];
  const pinned = SELF_ENTERING.has(cmd) ? PINNED.exec(netns) : null;
  if (pinned) return [cmd, ['-n', pinned[1], ...args]];
  return ['nsenter', [`--net=${netns}`, '--', cmd, ...args]];
}

export const spawnRunner: CommandRunner = async (cmd, args, opts = {}) => {
  const [file, argv] = inNetns(opts.netns, cmd, args);
  const r = await spawnCollect(file, argv, opts.input);
  if (r.code === 0) return { stdout: r.stdout, stderr: r.stderr };
  throw new CommandError(cmd, args, r.code, r.error ?? r.stderr, r.stdout);
};

let current: CommandRunner = spawnRunner;

/** Run a host tool through the injectable runner. */
export const run: CommandRunner = (cmd, args, opts) => current(cmd, args, opts);

/** Swap the runner (unit tests record commands instead of touching the kernel). Returns the previous one. */
export function setRunner(runner: CommandRunner): CommandRunner {
  const prev = current;
  current = runner;
  return prev;
}
