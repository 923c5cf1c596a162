import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { isAbsolute } from 'node:path';
import { listenUnix } from '@tscni/net/host/unix-listener';
import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { NetConf, Verb } from '@tscni/cni';
import { CmdArgs } from '@tscni/cni/skel';
import { clientIDOf, loadConf } from '../conf';
import { EmptyType, ResultType, leaseToResult, serveGoRpc, type Reply } from '../go-rpc';
import type { DaemonFlags } from './flags';
import { LeaseManager } from './leases';
import { LeaseStore } from './store';

const log = (msg: string): void => void process.stderr.write(`${new Date().toISOString()} ${msg}\n`);

/**
 * `dhcp daemon`: one process serving every lease over the unix socket. A plugin that dies mid-call
 * only loses its reply; the lease it asked for is kept (the runtime's DEL will release it).
 */
export async function runDaemon(flags: DaemonFlags): Promise<void> {
  if (flags.pidfile && !isAbsolute(flags.pidfile))
    throw new Error(`Error writing pidfile ${JSON.stringify(flags.pidfile)}: path not absolute`);
  const settings = {
    timeoutMs: flags.timeoutMs,
    resendMaxMs: flags.resendMaxMs,
    resendTimeoutMs: flags.resendTimeoutMs,
    broadcast: flags.broadcast,
  };
  const manager = new LeaseManager(settings, new LeaseStore(flags.hostPrefix + flags.stateDir), log, flags.hostPrefix);
  await manager.restore();

  const socketPath = flags.hostPrefix + flags.socketPath;
  const server = createServer((conn) => serveGoRpc(conn, (method, body) => handle(method, body, manager)));
  const where = await listenUnix(server, socketPath);
  if (flags.pidfile) writeFileSync(flags.pidfile, String(process.pid), { mode: 0o644 });
  log(`listening on ${where}, ${manager.size} lease(s) restored`);

  const shutdown = () => {
    log('shutting down; leases stay on disk for the next start');
    manager.detachAll();
    server.close();
    if (!process.env.LISTEN_FDS) rmSync(socketPath, { force: true });
    if (flags.pidfile) rmSync(flags.pidfile, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // One daemon serves every pod: a bug in one lease's handling is logged, not fatal to all the others.
  process.on('uncaughtException', (err) => log(`internal error: ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log(`internal error: ${(err as Error)?.stack ?? String(err)}`));
}

type Decoded = Record<string, unknown>;
const EMPTY: Reply = { type: EmptyType, value: {} };

/** The daemon's methods; each reads the forwarded invocation's config itself, as the reference daemon does. */
async function handle(method: string, body: Decoded, manager: LeaseManager): Promise<Reply> {
  let args: CmdArgs | undefined;
  try {
    switch (method) {
      case 'DHCP.Allocate':
        args = invocation(body, 'ADD');
        return { type: ResultType, value: leaseToResult(await manager.allocate(loadConf(args).lease)) };
      case 'DHCP.Release':
        args = invocation(body, 'DEL');
        await manager.release(clientIDOf(args.containerID, args.parse(NamedConf).name, args.ifName));
        return EMPTY;
      case 'DHCP.Check': {
        args = invocation(body, 'CHECK');
        const address = args.prevResult()?.ips?.[0]?.address;
        await manager.check(loadConf(args).lease.clientID, address);
        return EMPTY;
      }
      case 'DHCP.GC':
        args = invocation(body, 'GC');
        await manager.gc(args.parse(NamedConf).name, args.validAttachments());
        return EMPTY;
      case 'DHCP.Ping':
        return EMPTY;
      default:
        return { error: `rpc: can't find method ${method}` };
    }
  } catch (err) {
    const msg = (err as Error).message;
    log(`${method} ${args ? `${args.containerID}/${args.ifName}` : ''}: ${msg}`);
    return { error: msg };
  }
}

const NamedConf = lazySchema(() => z.object({ name: z.string().min(1, 'missing network name') }).passthrough());
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** skel.CmdArgs from the wire as the plugin-side CmdArgs; the config is JSON in StdinData. */
function invocation(body: Decoded, verb: Verb): CmdArgs {
  const stdin = Buffer.isBuffer(body.StdinData) ? body.StdinData.toString('utf8') : '';
  let netConf: unknown;
  try {
    netConf = JSON.parse(stdin);
  } catch (err) {
    throw new Error(`error parsing netconf: ${(err as Error).message}`);
  }
  if (!netConf || typeof netConf !== 'object' || Array.isArray(netConf))
    throw new Error('error parsing netconf: not a JSON object');
  const path = text(body.Path).split(':').filter(Boolean);
  return new CmdArgs(
    verb,
    text(body.ContainerID),
    text(body.Netns),
    text(body.IfName),
    text(body.Args),
    path,
    stdin,
    netConf as NetConf,
    {},
  );
}
