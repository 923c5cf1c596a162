import { bun, type BunFfi } from './platform';

/**
 * The system calls our hot paths make in-process under Bun (rtnetlink's sockets, flock, setns, the file operations of
 * ./files), through ONE `bun:ffi` symbol: libc's `syscall(2)` (a symbol costs a compiled trampoline; one generic
 * symbol serves them all). Numbers per architecture; on any other architecture, under Node, or when libc cannot be
 * opened, `sys()` is undefined and the caller does it the portable way (`ip`, node:fs …). A failed call returns
 * `-errno` (read through libc's `__errno_location`), as the kernel does.
 */
export interface Sys {
  /** `syscall(nr, …)`; pointers are `ptr(buffer)` numbers; `-errno` on failure. */
  call(name: SysName, ...args: number[]): number;
  /** The address of a buffer's first byte, for `call`. */
  ptr(buf: Uint8Array): number;
}

export type SysName =
  | 'socket'
  | 'sendto'
  | 'recvfrom'
  | 'setsockopt'
  | 'close'
  | 'openat'
  | 'setns'
  | 'flock'
  | 'getpid'
  | 'read'
  | 'write'
  | 'pread64'
  | 'getdents64'
  | 'mkdirat'
  | 'unlinkat'
  | 'linkat'
  | 'renameat2'
  | 'faccessat'
  | 'statx'
  | 'ppoll';

// x64: arch/x86/entry/syscalls/syscall_64.tbl; arm64: include/uapi/asm-generic/unistd.h.
const NUMBERS: Record<string, Record<SysName, number>> = {
  x64: {
    socket: 41,
    sendto: 44,
    recvfrom: 45,
    setsockopt: 54,
    close: 3,
    openat: 257,
    setns: 308,
    flock: 73,
    getpid: 39,
    read: 0,
    write: 1,
    pread64: 17,
    getdents64: 217,
    mkdirat: 258,
    unlinkat: 263,
    linkat: 265,
    renameat2: 316,
    faccessat: 269,
    statx: 332,
    ppoll: 271,
  },
  arm64: {
    socket: 198,
    sendto: 206,
    recvfrom: 207,
    setsockopt: 208,
    close: 57,
    openat: 56,
    setns: 268,
    flock: 32,
    getpid: 172,
    read: 63,
    write: 64,
    pread64: 67,
    getdents64: 61,
    mkdirat: 34,
    unlinkat: 35,
    linkat: 37,
    renameat2: 276,
    faccessat: 48,
    statx: 291,
    ppoll: 73,
  },
};

let loaded: Sys | null | undefined;

export function sys(): Sys | undefined {
  if (loaded === undefined) {
    loaded = null;
    const nr = NUMBERS[process.arch];
    if (process.versions.bun && nr) {
      try {
        // `Bun.FFI` is the native object whose dlopen `bun:ffi`'s wraps (the wrapper only normalizes a file: URL):
        // evaluating the `bun:ffi` module costs ≈ 0.8 ms of CPU in the executable, reaching `Bun.FFI` ≈ 0.1 ms.
        // The self-check below (getpid through it) guards against a Bun whose internals differ.
        const ffi = bun?.FFI ?? (process.getBuiltinModule('bun:ffi') as unknown as BunFfi | undefined);
        const lib = ffi?.dlopen('libc.so.6', {
          syscall: { args: ['i64', 'i64', 'i64', 'i64', 'i64', 'i64', 'i64'], returns: 'i64' },
          __errno_location: { args: [], returns: 'ptr' },
        }).symbols;
        if (ffi && lib && Number(lib.syscall(nr.getpid, 0, 0, 0, 0, 0, 0)) === process.pid)
          loaded = {
            call: (name, ...args) => {
              while (args.length < 6) args.push(0);
              const r = Number(lib.syscall(nr[name], ...args));
              return r === -1 ? -ffi.read.i32(lib.__errno_location(), 0) : r;
            },
            ptr: (buf) => ffi.ptr(buf),
          };
      } catch {
        loaded = null;
      }
    }
  }
  return loaded ?? undefined;
}
