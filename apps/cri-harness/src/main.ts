import { FlagError, USAGE, parseFlags } from './flags';
import { startHarness } from './harness';
import { log } from './log';
import { RUNTIME_NAME, RUNTIME_VERSION } from './runtime-service';

async function main(): Promise<void> {
  // stderr carries JSON lines only (grpc-js, for etcd over TLS, warns about server names that are IP addresses).
  process.noDeprecation = true;
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    process.stderr.write(`cri-harness: ${e.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (flags.help) return void process.stdout.write(`${USAGE}\n`);
  if (flags.version) return void process.stdout.write(`${RUNTIME_NAME} ${RUNTIME_VERSION} (CRI runtime.v1)\n`);
  if (process.getuid?.() !== 0) {
    log('error', 'cri-harness must run as root (it creates network namespaces)');
    process.exit(1);
  }
  const harness = await startHarness(flags);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    log('info', 'Shutdown', { signal });
    harness.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((e: Error) => {
  log('error', e.message);
  process.exit(1);
});
