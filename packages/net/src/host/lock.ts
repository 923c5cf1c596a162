import { closeFile, exists, mkdirp, openFile } from '@tscni/cni/files';
import { spawnCollect } from '@tscni/cni/platform-spawn';
import { dirname } from '@tscni/cni/paths';
import { LOCK_EX, LOCK_NB, libc } from './libc';

/**
 * Hold an exclusive flock(2) on `path` while `fn` runs: the same lock the reference host-local takes
 * on its `lock` file, so both can share a data dir. Under Bun the lock is tried in this process first
 * (`flock(fd, LOCK_EX|LOCK_NB)` through bun:ffi, no process, a few times over ≈ 30 ms); when it is still held
 * elsewhere, or under Node (which has no flock), flock(1) locks the open file description we hand it as fd 3 and
 * waits: the lock stays with our descriptor after flock(1) exits and is released when we close it (or when the
 * process dies). It waits without a time limit, like iptables -w: under contention a plugin gets slow, it does not
 * fail. (A blocking flock(2) in this process would stall its event loop, and in the CRI harness, which runs plugins
 * in-process, every pod with it.)
 */
export function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  return inTurn(path, async () => {
    mkdirp(dirname(path), 0o755);
    // An existing file is opened read-only: that also locks files one cannot write, such as a netns bind mount.
    const fd = openFile(path, exists(path) ? 'r' : 'a', 0o600);
    try {
      if (!(await lockHere(fd))) {
        const r = await spawnCollect('flock', ['-x', '3'], undefined, fd);
        if (r.code !== 0) throw new Error(`flock ${path}: ${(r.error ?? r.stderr).trim() || `exit ${r.code}`}`);
      }
      return await fn();
    } finally {
      closeFile(fd);
    }
  });
}

/** The last turn taken on each lock path in this process: later callers wait for it. */
const turns = new Map<string, Promise<void>>();

/**
 * Run `fn` after every earlier caller of this process with the same `path` is done. Where many plugin calls share a
 * process (tscni-plugind, the CRI harness) they queue here and each takes the flock the moment the last let go,
 * instead of polling flock(2) against each other on timers; across processes flock(2) still decides.
 */
async function inTurn<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const before = turns.get(path);
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  const turn = before ? before.then(() => mine) : mine;
  turns.set(path, turn);
  try {
    if (before) await before;
    return await fn();
  } finally {
    done();
    if (turns.get(path) === turn) turns.delete(path);
  }
}

/** Spacing of the in-process tries (ms): a lock holder keeps it ≈ 1 ms, but may be descheduled on a busy node. */
const RETRIES_MS = [1, 2, 3, 5, 8, 13];

/**
 * flock(LOCK_EX|LOCK_NB) in this process, tried again a few times over ≈ 30 ms while another holds the lock (the
 * event loop stays free meanwhile); false under Node, or when the lock is still held (flock(1) then waits for it).
 */
async function lockHere(fd: number): Promise<boolean> {
  const c = libc();
  if (!c) return false;
  for (const ms of [0, ...RETRIES_MS]) {
    if (ms) await new Promise((r) => setTimeout(r, ms));
    if (c.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
  }
  return false;
}
