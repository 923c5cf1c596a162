import { sys } from './rtnetlink/sys';

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

/** flock and setns through `./rtnetlink/sys` (libc's `syscall`, one bun:ffi symbol for every system call we make). */
export function libc(): Libc | undefined {
  const s = sys();
  if (s && !loaded)
    loaded = { flock: (fd, op) => s.call('flock', fd, op), setns: (fd, nstype) => s.call('setns', fd, nstype) };
  return loaded;
}

let switchAllowed = false;

/**
 * Declare this process one plugin call (a plugin's `main`): from then on `netnsSwitcher()` may hand out setns. A
 * process that runs several calls at once (the CRI harness, plugins in-process) must not: while its main thread is
 * inside a pod, an `ip … netns <pid>` of another call (a veth's host end) would resolve to that pod.
 */
export function soleCallInProcess(): void {
  switchAllowed = true;
}

/** Whether this process declared itself one plugin call (`soleCallInProcess`). */
export const isSoleCall = (): boolean => switchAllowed;

/** `libc()` when this thread may enter another network namespace for a moment (see `soleCallInProcess`). */
export const netnsSwitcher = (): Libc | undefined => (switchAllowed ? libc() : undefined);
