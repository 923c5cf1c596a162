/**
 * The skeleton's netns identity check without node:fs under Bun (see platform.ts): statx(2) through ./files on this
 * thread when the FFI symbol is there, else Bun's asynchronous stat on its pool; under Node, ./files is node:fs.
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
  if (bun && !sys())
    return bun
      .file(path)
      .stat()
      .then(
        (s) => ({ dev: s.dev, ino: s.ino }),
        () => undefined,
      );
  // On this thread: it is at home whenever JavaScript runs (the in-process netlink and sysctl code enters a pod and
  // returns within one synchronous call).
  try {
    const s = stat(path);
    return Promise.resolve({ dev: s.dev, ino: s.ino });
  } catch {
    return Promise.resolve(undefined);
  }
}
