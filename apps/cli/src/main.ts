import { runCli } from './cli';

// grpc-js (tscni policy's etcd client) passes an IP endpoint as the TLS server name, which Node warns about on stderr.
process.noDeprecation = true;

// Ctrl-C or a runtime's SIGTERM kills the running plugin instead of leaving it behind.
const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort());

runCli(
  process.argv.slice(2),
  process.env,
  { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) },
  controller.signal,
).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`tscni: ${String((err as Error)?.message ?? err)}\n`);
    process.exit(1);
  },
);
