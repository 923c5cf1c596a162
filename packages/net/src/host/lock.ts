import { spawnCollect } from '@tscni/cni/platform-spawn';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { LOCK_EX, LOCK_NB, libc } from './libc';

/**
 * Hold an exclusive flock(2) on `path` while `fn` runs: the same lock the reference host-local takes
 * on its `lock` file, so both can share a data dir. Under Bun the lock is tried in this process first
 * (`flock(fd, LOCK_EX|LOCK_NB)` through bun:ffi, no process); when it is held elsewhere, or under Node (which has
 * no flock), flock(1) locks the open file description we hand it as fd 3 and waits: the lock stays with our
 * descriptor after flock(1) exits and is released when we close it (or when the process dies). It waits without a
 * time limit, like iptables -w: under contention a plugin gets slow, it does not fail. (A blocking flock(2) in this
 * process would stall its event loop, and in the CRI harness, which runs plugins in-process, every pod with it.)
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  // An existing file is opened read-only: that also locks files one cannot write, such as a netns bind mount.
  const fd = openSync(path, existsSync(path) ? 'r' : 'a', 0o600);
  try {
    if (libc()?.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
      const r = await spawnCollect('flock', ['-x', '3'], undefined, fd);
      if (r.code !== 0) throw new Error(`flock ${path}: ${(r.error ?? r.stderr).trim() || `exit ${r.code}`}`);
    }
    return await fn();
  } finally {
    closeSync(fd);
  }
}
