/**
 * The errors @tscni/cni/files throws for a failed system call: what node:fs would throw for the same errno (code,
 * negative errno, syscall, path, dest and libuv's message), so callers keep their `err.code` checks.
 */

/** libuv's messages for the errors a file operation meets (the same numbers on x64 and arm64). */
const ERRNO: Record<number, [string, string]> = {
  1: ['EPERM', 'operation not permitted'],
  2: ['ENOENT', 'no such file or directory'],
  3: ['ESRCH', 'no such process'],
  4: ['EINTR', 'interrupted system call'],
  5: ['EIO', 'i/o error'],
  6: ['ENXIO', 'no such device or address'],
  9: ['EBADF', 'bad file descriptor'],
  11: ['EAGAIN', 'resource temporarily unavailable'],
  12: ['ENOMEM', 'not enough memory'],
  13: ['EACCES', 'permission denied'],
  14: ['EFAULT', 'bad address in system call argument'],
  16: ['EBUSY', 'resource busy or locked'],
  17: ['EEXIST', 'file already exists'],
  18: ['EXDEV', 'cross-device link not permitted'],
  19: ['ENODEV', 'no such device'],
  20: ['ENOTDIR', 'not a directory'],
  21: ['EISDIR', 'illegal operation on a directory'],
  22: ['EINVAL', 'invalid argument'],
  23: ['ENFILE', 'file table overflow'],
  24: ['EMFILE', 'too many open files'],
  26: ['ETXTBSY', 'text file is busy'],
  27: ['EFBIG', 'file too large'],
  28: ['ENOSPC', 'no space left on device'],
  30: ['EROFS', 'read-only file system'],
  31: ['EMLINK', 'too many links'],
  36: ['ENAMETOOLONG', 'name too long'],
  38: ['ENOSYS', 'function not implemented'],
  39: ['ENOTEMPTY', 'directory not empty'],
  40: ['ELOOP', 'too many symbolic links encountered'],
  75: ['EOVERFLOW', 'value too large for defined data type'],
  95: ['ENOTSUP', 'operation not supported on socket'],
  122: ['EDQUOT', 'disk quota exceeded'],
};

/** The Error node:fs would throw for `-errno` from `syscall` on `path` (and `dest`). */
export function errnoError(errno: number, syscall: string, path?: string, dest?: string): NodeJS.ErrnoException {
  const [code, text] = ERRNO[errno] ?? ['UNKNOWN', `unknown error ${errno}`];
  const where = path === undefined ? '' : ` '${path}'${dest === undefined ? '' : ` -> '${dest}'`}`;
  return Object.assign(new Error(`${code}: ${text}, ${syscall}${where}`), {
    errno: -errno,
    code,
    syscall,
    ...(path === undefined ? {} : { path }),
    ...(dest === undefined ? {} : { dest }),
  });
}
