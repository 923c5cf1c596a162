import { sys } from '@tscni/cni/sys';

/**
 * flock(2) and setns(2) in this process, through `bun:ffi` under Bun (measured ≈ free next to the process each would
 * otherwise take: ≈ 1–1.5 ms of CPU for the tool alone, more for the spawn). Under Node, or when libc cannot be
 * opened, `libc()` is undefined and callers run the tool as before. Every caller treats a non-zero return as "do it
 * the old way": errno is not read here.
 */
export interface Libc {
  flock(fd: number, operation: number): number;
  setns(fd: number, nstype: number): number;
}

export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const CLONE_NEWNET = 0x40000000;

let loaded: Libc | undefined;

/** flock and setns through `@tscni/cni/sys` (libc's `syscall`, one bun:ffi symbol for every system call we make). */
export function libc(): Libc | undefined {
  const s = sys();
  if (s && !loaded)
    loaded = { flock: (fd, op) => s.call('flock', fd, op), setns: (fd, nstype) => s.call('setns', fd, nstype) };
  return loaded;
}
