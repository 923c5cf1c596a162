import { chmodSync, chownSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { AuthorityRewriter } from './h2-authority';
import { AlreadyRunningError } from './instance-lock';
import { log } from './log';

/** A leftover socket file is removed; one that still accepts connections belongs to a live server and is refused. */
export async function replaceStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new AlreadyRunningError(`another server is listening on ${path}; stop it first`);
  rmSync(path, { force: true });
}

export interface UnixListener {
  /** Stop accepting, let open calls finish, then close every connection. */
  close(): Promise<void>;
}

/**
 * Serve `server` on the unix socket at `path`, mode 0660, owned by root (the socket never exists wider). Each
 * connection reaches grpc-js through an AuthorityRewriter, so clients that send the socket path as `:authority`
 * are served too (see h2-authority.ts).
 */
export async function listenUnix(server: grpc.Server, path: string): Promise<UnixListener> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<Socket>();
  const listener = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    injector.injectConnection(rewritingDuplex(socket));
  });
  const umask = process.umask(0o117);
  try {
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(path, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  chownSync(path, 0, 0);
  chmodSync(path, 0o660);
  return {
    close: async () => {
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      injector.drain(2000);
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      injector.destroy();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** The connection as grpc-js sees it: the client's bytes rewritten on the way in, the server's passed straight out. */
function rewritingDuplex(socket: Socket): Duplex {
  const rewriter = new AuthorityRewriter();
  const duplex = new Duplex({
    read: () => void socket.resume(),
    write: (chunk: Buffer, _encoding, callback) => void socket.write(chunk, (err) => callback(err ?? null)),
    final: (callback) => void socket.end(() => callback()),
    destroy: (err, callback) => {
      socket.destroy();
      callback(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    let frames: Buffer[];
    try {
      frames = rewriter.push(chunk);
    } catch (e) {
      log('warn', 'Dropped a connection', { error: (e as Error).message });
      socket.destroy();
      return;
    }
    for (const frame of frames) if (!duplex.push(frame)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', () => socket.destroy());
  socket.on('close', () => duplex.destroy());
  return duplex;
}
