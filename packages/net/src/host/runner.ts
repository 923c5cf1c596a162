import { spawnCollect } from '@tscni/cni/platform-spawn';
import { CommandError } from './command-error';
import { inNetns } from './in-netns';

export { inNetns } from './in-netns';

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

/** Runs the tool as a process. */
const spawnTool: CommandRunner = async (cmd, args, opts = {}) => {
  const [file, argv] = inNetns(opts.netns, cmd, args);
  const r = await spawnCollect(file, argv, opts.input);
  if (r.code === 0) return { stdout: r.stdout, stderr: r.stderr };
  throw new CommandError(cmd, args, r.code, r.error ?? r.stderr, r.stdout);
};

/** Does an `ip` invocation in this process: its result, or undefined (then nothing was done and `ip` runs). */
export type IpInProcess = (
  args: readonly string[],
  opts: RunOptions,
  spawn: (args: readonly string[], opts: RunOptions) => Promise<RunResult>,
) => Promise<RunResult | undefined> | undefined;

let ipHere: IpInProcess | undefined;

/**
 * Let `ip` invocations be done in-process (`./rtnetlink`'s `useIpInProcess`). Set by the plugins that use it: only
 * their bundles carry the interpreter (≈ 23 KB, +57 % on tuning's bundle, which a call pays to load whether it uses
 * it or not).
 */
export function setIpInProcess(fn: IpInProcess): void {
  ipHere = fn;
}

/**
 * Runs the tool; an `ip` invocation `ipHere` does is done in this process instead, with the same outcome. One it
 * declines is spawned at once, as if `ipHere` were not there.
 */
export const spawnRunner: CommandRunner = (cmd, args, opts = {}) => {
  const here = cmd === 'ip' && ipHere ? ipHere(args, opts, (a, o) => spawnTool('ip', a, o)) : undefined;
  return here ? here.then((r) => r ?? spawnTool(cmd, args, opts)) : spawnTool(cmd, args, opts);
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
