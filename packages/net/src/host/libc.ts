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

interface BunFfi {
  dlopen(path: string, symbols: Record<keyof Libc, { args: ['i32', 'i32']; returns: 'i32' }>): { symbols: Libc };
}

let loaded: Libc | null | undefined;

/** libc's flock and setns, loaded on first use (`null` once it failed: not retried). */
export function libc(): Libc | undefined {
  if (loaded === undefined) {
    loaded = null;
    if (process.versions.bun) {
      try {
        const ffi = process.getBuiltinModule('bun:ffi') as unknown as BunFfi | undefined;
        const sig = { args: ['i32', 'i32'] as ['i32', 'i32'], returns: 'i32' as const };
        loaded = ffi?.dlopen('libc.so.6', { flock: sig, setns: sig }).symbols ?? null;
      } catch {
        loaded = null;
      }
    }
  }
  return loaded ?? undefined;
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

/** `libc()` when this thread may enter another network namespace for a moment (see `soleCallInProcess`). */
export const netnsSwitcher = (): Libc | undefined => (switchAllowed ? libc() : undefined);
