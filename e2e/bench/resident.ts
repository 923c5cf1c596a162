/**
 * Ours in resident mode for the benchmark (docs/resident.md): the shims of dist/bun/cni-resident and a tscni-plugind
 * inside the bench's node namespace (where every plugin of a pod runs: a daemon serves only its own namespace), on a
 * socket of the run that the plugins find through `TSCNI_PLUGIND_SOCKET`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestNode } from '@tscni/testing/node';

export const RESIDENT_BIN = join(import.meta.dirname, '../../dist/bun/cni-resident');

export interface Plugind {
  socket: string;
  stop(): Promise<void>;
}

/** Starts the daemon in `node`'s namespace; undefined (and says why) when this tree has no resident build. */
export async function startPlugind(node: TestNode): Promise<Plugind | undefined> {
  const exe = join(RESIDENT_BIN, 'tscni-cni');
  if (!existsSync(join(RESIDENT_BIN, 'tscni-shim'))) {
    console.log(`no resident build in ${RESIDENT_BIN}: the resident column is left out`);
    return undefined;
  }
  const socket = join(node.tmp, 'plugind.sock');
  // The plugins inherit the bench's environment (libcni's exec): the shims find the daemon through it.
  process.env.TSCNI_PLUGIND_SOCKET = socket;
  const daemon: ChildProcess = spawn('nsenter', [`--net=${node.path}`, '--', exe, 'serve', '--socket', socket], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let waited = 0; !existsSync(socket); waited += 20) {
    if (daemon.exitCode !== null || waited > 10_000) throw new Error(`tscni-plugind did not start (${exe})`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    socket,
    stop: async () => {
      delete process.env.TSCNI_PLUGIND_SOCKET;
      if (daemon.exitCode !== null) return;
      const exited = new Promise((r) => daemon.once('exit', r));
      daemon.kill('SIGTERM');
      await exited;
    },
  };
}
