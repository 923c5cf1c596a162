import { spawn } from 'node:child_process';

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

export const spawnRunner: CommandRunner = (cmd, args, opts = {}) =>
  new Promise((resolve, reject) => {
    const [file, argv] = inNetns(opts.netns, cmd, args);
    const child = spawn(file, argv, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => reject(new CommandError(cmd, args, null, e.message)));
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code === 0) resolve({ stdout, stderr });
      else reject(new CommandError(cmd, args, code, stderr, stdout));
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(opts.input);
    }
  });

let current: CommandRunner = spawnRunner;

/** Run a host tool through the injectable runner. */
export const run: CommandRunner = (cmd, args, opts) => current(cmd, args, opts);

/** Swap the runner (unit tests record commands instead of touching the kernel). Returns the previous one. */
export function setRunner(runner: CommandRunner): CommandRunner {
  const prev = current;
  current = runner;
  return prev;
}
