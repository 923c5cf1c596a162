/**
 * Ours in resident mode for the benchmark (docs/resident.md): the shims of dist/bun/cni-resident and a tscni-plugind
 * inside the bench's node namespace (where every plugin of a pod runs: a daemon serves only its own namespace), on a
 * socket of the run that the plugins find through `TSCNI_PLUGIND_SOCKET`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestNode } from '@tscni/testing/node';
import { PlugindProcess, RESIDENT_BIN, plugindSettings } from '@tscni/testing/plugind';

export { RESIDENT_BIN };

/** Starts the daemon in `node`'s namespace; undefined (and says why) when this tree has no resident build. */
export async function startPlugind(node: TestNode): Promise<{ stop(): Promise<void> } | undefined> {
  if (!existsSync(join(RESIDENT_BIN, 'tscni-shim'))) {
    console.log(`no resident build in ${RESIDENT_BIN}: the resident column is left out`);
    return undefined;
  }
  const socket = join(node.tmp, 'plugind.sock');
  // The plugins inherit the bench's environment (libcni's exec): the shims find the daemon through it, and the
  // daemon takes their calls only with the same TSCNI_* settings.
  process.env.TSCNI_PLUGIND_SOCKET = socket;
  const daemon = await PlugindProcess.start({ socket, netns: node.path, env: plugindSettings() });
  return {
    stop: async () => {
      delete process.env.TSCNI_PLUGIND_SOCKET;
      await daemon.stop();
    },
  };
}
