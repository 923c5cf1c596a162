import { chmodSync, chownSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { AlreadyRunningError } from './instance-lock';

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

/** Bind the gRPC server on the unix socket at `path`, mode 0660, owned by root (the socket never exists wider). */
export async function bindUnixSocket(server: grpc.Server, path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
  const umask = process.umask(0o117);
  try {
    await new Promise<number>((resolve, reject) => server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
  } finally {
    process.umask(umask);
  }
  chownSync(path, 0, 0);
  chmodSync(path, 0o660);
}
