/** tscni-agent: flanneld's command line and behaviour with its etcd subnet manager. */
import { Agent } from './agent';
import { StoppedError } from './backoff';
import { UsageError, checkFlags, parseFlags, usage } from './flags';
import { jsonLogger } from './log';

const VERSION = '0.1.0';

async function main(): Promise<number> {
  const log = jsonLogger();
  // stderr carries JSON lines only (grpc-js warns about TLS server names that are IP addresses).
  process.noDeprecation = true;
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n${usage()}`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (flags.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const problems = checkFlags(flags);
  if (problems.length) {
    process.stderr.write(`${problems.join('\n')}\n`);
    return 2;
  }
  const agent = new Agent(flags, log);
  const stop = (signal: string) => {
    log.info('shutting down', { signal, cleanup: flags.cleanupOnExit });
    void agent.shutdown();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  try {
    await agent.start();
    log.info('running', {});
    await agent.done;
    return 0;
  } catch (err) {
    if (err instanceof StoppedError || agent.stopping) return 0; // a signal arrived before start-up finished
    log.error('fatal', { error: (err as Error).message });
    await agent.shutdown().catch(() => {});
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'fatal', error: err.message })}\n`,
    );
    process.exit(1);
  },
);
