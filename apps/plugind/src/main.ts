import { rmSync } from 'node:fs';
import { OUR_PLUGINS } from '@tscni/in-process-plugins';
import { pluginLoader } from '@tscni/libcni';
import { deleteLinksOutOfProcess } from '@tscni/net/host/ip-in-process';
import { listenUnix } from '@tscni/net/host/unix-listener';
import { homeOf } from './admission';
import { plugindServer } from './server';

/**
 * tscni-plugind, resident mode's daemon (docs/resident.md):
 *   tscni-cni serve [--socket PATH] [--executable PATH] [--verbose]
 * Runs the plugin calls the shims hand it, in this process. `--executable` is the file whose calls it may take (the
 * multi-call executable it was started from, by default); `--verbose` logs every call it takes.
 */
const DEFAULT_SOCKET = '/run/tscni/plugind.sock';

const log = (msg: string): void => void process.stderr.write(`${new Date().toISOString()} tscni-plugind: ${msg}\n`);

interface Flags {
  socket: string;
  executable: string;
  /** One log line per call taken: verb, plugin, container and interface, exit code, milliseconds. */
  verbose: boolean;
}

function flags(argv: string[]): Flags {
  const args = argv[0] === 'serve' ? argv.slice(1) : argv;
  const out = {
    socket: process.env.TSCNI_PLUGIND_SOCKET || DEFAULT_SOCKET,
    executable: process.execPath,
    verbose: false,
  };
  const usage = (at: string) =>
    new Error(`usage: tscni-cni serve [--socket PATH] [--executable PATH] [--verbose] (at ${JSON.stringify(at)})`);
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    if (flag === '--verbose') {
      out.verbose = true;
      continue;
    }
    const value = args[++i];
    if (value === undefined || (flag !== '--socket' && flag !== '--executable')) throw usage(flag);
    if (!value.startsWith('/')) throw new Error(`${flag} ${JSON.stringify(value)}: not an absolute path`);
    out[flag === '--socket' ? 'socket' : 'executable'] = value;
  }
  return out;
}

async function main(): Promise<void> {
  const { socket, executable, verbose } = flags(process.argv.slice(2));
  // Many calls at once, as in the CRI harness: no kernel request may hold the thread for long (a veth's deletion).
  deleteLinksOutOfProcess();
  const home = homeOf(executable, Object.keys(OUR_PLUGINS));
  if (!home.executable) throw new Error(`--executable ${executable}: no such file`);
  const server = plugindServer(home, pluginLoader(OUR_PLUGINS), log, verbose);
  const where = await listenUnix(server, socket, 0o600);
  log(`serving ${[...home.plugins].join(', ')} for ${executable} on ${where}`);

  const shutdown = () => {
    // Calls in flight finish (a plugin stopped half-way would leave its work to a DEL); new ones fall back.
    server.close();
    if (!process.env.LISTEN_FDS) rmSync(socket, { force: true });
    setTimeout(() => process.exit(0), 30_000).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // One daemon serves every pod: a bug in one call is logged, not fatal to the others.
  process.on('uncaughtException', (err) => log(`internal error: ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log(`internal error: ${(err as Error)?.stack ?? String(err)}`));
}

main().catch((e: unknown) => {
  log((e as Error).message);
  process.exitCode = 1;
});
