import { CNIConfig } from '@tscni/libcni';
import { parseArgv, USAGE, UsageError, type CliArgs } from './argv';
import { add, check, del, gc, status, type Context, type Output } from './commands';
import { readEnvironment } from './environment';
import { describeError, formatErrorLine, type ErrorContext } from './errors';
import { installCommand } from './install-command';
import { policyCommand } from './policy-command';
import { ls, validate } from './inspect';

const COMMANDS: Record<string, (ctx: Context) => Promise<Output>> = {
  add,
  check,
  del,
  gc,
  status,
  validate,
  ls,
  install: installCommand,
  policy: policyCommand,
};

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** The whole CLI, process-free: argv and env in, lines and an exit code out. */
export async function runCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: Io,
  signal: AbortSignal,
): Promise<number> {
  let args: CliArgs | undefined;
  const ectx: ErrorContext = {
    netConfPath: env.NETCONFPATH || '/etc/cni/net.d',
    binDirs: (env.CNI_PATH ?? '').split(':').filter(Boolean),
  };
  try {
    args = parseArgv(argv);
    if (args.help || !args.command) {
      (args.help ? io.out : io.err)(USAGE);
      return args.help ? 0 : 1;
    }
    ectx.verb = args.command;
    ectx.network = args.positional[0];
    const command = COMMANDS[args.command];
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(args.command)}`);
    const cliEnv = readEnvironment(env, args);
    const cni = new CNIConfig({ binDirs: cliEnv.binDirs, cacheDir: cliEnv.cacheDir, execTimeoutMs: args.timeoutMs });
    const { stdout, exitCode } = await command({ args, env: cliEnv, cni, signal });
    for (const line of stdout) io.out(line);
    return exitCode;
  } catch (err) {
    const report = describeError(err, ectx);
    if (args?.json) io.out(JSON.stringify(report));
    else io.err(formatErrorLine(report, ectx));
    return 1;
  }
}
