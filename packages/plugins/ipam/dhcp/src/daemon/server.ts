import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname, isAbsolute } from 'node:path';
import type { LeaseRequest, RpcRequest, RpcResponse } from '../rpc';
import type { DaemonFlags } from './flags';
import { LeaseManager } from './leases';
import { LeaseStore } from './store';

const log = (msg: string): void => void process.stderr.write(`${new Date().toISOString()} ${msg}\n`);

/**
 * `dhcp daemon`: one process serving every lease over the unix socket. A plugin that dies mid-call
 * only loses its reply; the lease it asked for is kept (the runtime's DEL will release it).
 */
export async function runDaemon(flags: DaemonFlags): Promise<void> {
  if (flags.pidfile && !isAbsolute(flags.pidfile)) throw new Error(`Error writing pidfile ${JSON.stringify(flags.pidfile)}: path not absolute`);
  const settings = { timeoutMs: flags.timeoutMs, resendMaxMs: flags.resendMaxMs, resendTimeoutMs: flags.resendTimeoutMs, broadcast: flags.broadcast };
  const manager = new LeaseManager(settings, new LeaseStore(flags.hostPrefix + flags.stateDir), log, flags.hostPrefix);
  await manager.restore();

  const socketPath = flags.hostPrefix + flags.socketPath;
  const server = createServer((conn) => serve(conn, manager));
  await listen(server, socketPath);
  if (flags.pidfile) writeFileSync(flags.pidfile, String(process.pid), { mode: 0o644 });
  log(`listening on ${socketPath}, ${manager.size} lease(s) restored`);

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

/** systemd socket activation (LISTEN_FDS=1 → fd 3), else a fresh socket; a stale socket file is replaced. */
async function listen(server: Server, socketPath: string): Promise<void> {
  const fds = Number(process.env.LISTEN_FDS ?? 0);
  if (fds > 0 && Number(process.env.LISTEN_PID) === process.pid) {
    if (fds !== 1) throw new Error(`Too many (${fds}) FDs passed through socket activation`);
    return new Promise((resolve, reject) => server.once('error', reject).listen({ fd: 3 }, resolve));
  }
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  if (existsSync(socketPath)) {
    if (await answers(socketPath)) throw new Error(`Error getting listener: ${socketPath}: a daemon is already listening`);
    rmSync(socketPath, { force: true });
  }
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve));
}

const answers = (path: string): Promise<boolean> =>
  new Promise((resolve) => {
    const c = createConnection(path);
    c.on('connect', () => (c.destroy(), resolve(true)));
    c.on('error', () => resolve(false));
  });

const MAX_REQUEST = 64 * 1024;

function serve(conn: Socket, manager: LeaseManager): void {
  let buf = '';
  conn.setEncoding('utf8');
  conn.on('error', () => {});
  conn.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_REQUEST) return void conn.destroy();
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    conn.pause();
    const line = buf.slice(0, nl);
    void handle(line, manager).then((res) => {
      if (!conn.destroyed) conn.end(JSON.stringify(res) + '\n');
    });
  });
}

async function handle(line: string, manager: LeaseManager): Promise<RpcResponse> {
  let req: RpcRequest;
  try {
    req = JSON.parse(line) as RpcRequest;
  } catch {
    return { error: 'malformed request' };
  }
  const p = req?.params ?? {};
  try {
    switch (req.method) {
      case 'DHCP.Allocate':
        return { result: await manager.allocate(p as LeaseRequest) };
      case 'DHCP.Release':
        await manager.release(String(p.clientID ?? ''));
        return { result: {} };
      case 'DHCP.Check':
        await manager.check(String(p.clientID ?? ''), typeof p.address === 'string' ? p.address : undefined);
        return { result: {} };
      case 'DHCP.GC':
        if (typeof p.network !== 'string' || !Array.isArray(p.valid)) throw new Error('invalid GC request');
        await manager.gc(p.network, p.valid.map((a) => ({ containerID: String(a?.containerID ?? ''), ifname: String(a?.ifname ?? '') })));
        return { result: {} };
      case 'DHCP.Ping':
        return { result: {} };
      default:
        return { error: `rpc: can't find method ${String(req?.method)}` };
    }
  } catch (err) {
    const msg = (err as Error).message;
    log(`${req.method} ${String(p.clientID ?? '')}: ${msg}`);
    return { error: msg };
  }
}
