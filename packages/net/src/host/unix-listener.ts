import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createConnection, type Server } from 'node:net';
import { dirname } from 'node:path';

/**
 * Listen on a daemon's unix socket: the socket systemd passed (socket activation, LISTEN_FDS=1 → fd 3), else a fresh
 * socket at `socketPath` (its directory made 0700 when missing; a stale socket file nobody answers on is replaced;
 * one a live daemon answers on is an error). `mode` (e.g. 0o600) is the new socket's permission, set as it is made.
 * Returns where it listens, for the daemon's log.
 */
export async function listenUnix(server: Server, socketPath: string, mode?: number): Promise<string> {
  const fds = Number(process.env.LISTEN_FDS ?? 0);
  if (fds > 0 && Number(process.env.LISTEN_PID) === process.pid) {
    if (fds !== 1) throw new Error(`Too many (${fds}) FDs passed through socket activation`);
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen({ fd: 3 }, resolve));
    return 'fd 3 (socket activation)';
  }
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  if (existsSync(socketPath)) {
    if (await answers(socketPath))
      throw new Error(`Error getting listener: ${socketPath}: a daemon is already listening`);
    rmSync(socketPath, { force: true });
  }
  // The umask is the only way to give a unix socket its mode as bind(2) makes it (a chmod after leaves a window).
  const umask = mode === undefined ? undefined : process.umask(~mode & 0o777);
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve));
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
  return socketPath;
}

const answers = (path: string): Promise<boolean> =>
  new Promise((resolve) => {
    const c = createConnection(path);
    c.on('connect', () => (c.destroy(), resolve(true)));
    c.on('error', () => resolve(false));
  });
