/**
 * The file calls a plugin's hot path makes, without node:fs under Bun (see platform.ts): loading Bun's Node-compat
 * fs costs a call ~1.5 ms of CPU, more than the loopback plugin's own work. Bun's file calls are asynchronous and run
 * on its thread pool, which reading stdin has already started, so there they cost a few tens of microseconds. Under
 * Node they are node:fs's synchronous calls, loaded on first use.
 */
import { stat } from './files';
import { bun } from './platform';
import { sys } from './sys';

export interface FileIdentity {
  dev: number;
  ino: number;
}

/** The device and inode of `path` (links followed), or undefined when it cannot be stat'ed. */
export function statIdentity(path: string): Promise<FileIdentity | undefined> {
  // statx(2) on this thread when the FFI symbol is there: no trip through Bun's pool. (This thread is at home whenever
  // JavaScript runs: the in-process netlink and sysctl code enters a pod and returns within one synchronous call.)
  if (bun && sys())
    try {
      const s = stat(path);
      return Promise.resolve({ dev: s.dev, ino: s.ino });
    } catch {
      return Promise.resolve(undefined);
    }
  if (bun)
    return bun
      .file(path)
      .stat()
      .then(
        (s) => ({ dev: s.dev, ino: s.ino }),
        () => undefined,
      );
  const { statSync } = process.getBuiltinModule('node:fs');
  try {
    const s = statSync(path);
    return Promise.resolve({ dev: s.dev, ino: s.ino });
  } catch {
    return Promise.resolve(undefined);
  }
}
