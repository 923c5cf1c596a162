import { errnoError } from './errno-error';
import { sys, type Sys } from './sys';

/**
 * The synchronous file operations of the plugins' hot paths (leases, locks, state files, sysctls, /proc reads, the
 * delegate lookup). Under Bun they are raw system calls through ./sys: loading Bun's `node:fs` compat module alone
 * costs a plugin call ≈ 1.2–1.9 ms of CPU (issue 18). Elsewhere (Node, or no `sys()`) they are node:fs, loaded on
 * first use. Either way a failure throws what node:fs throws: an Error with `code` ('ENOENT', 'EEXIST', …), negative
 * `errno`, `syscall`, `path` (and `dest`), so callers keep their checks. Every descriptor is opened O_CLOEXEC (as
 * node:fs's are); EINTR is retried; short reads and writes are continued; text is UTF-8.
 */

type NodeFs = typeof import('node:fs');
let nodeFs: NodeFs | undefined;
const fs = (): NodeFs => (nodeFs ??= process.getBuiltinModule('node:fs'));

/** The system calls when `sys()` is there, else undefined (and node:fs does the work). */
const raw = sys;

export interface FileStat {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  isFile(): boolean;
  isDirectory(): boolean;
}

// <asm-generic/fcntl.h>; arm64 moves O_DIRECTORY and O_NOFOLLOW (arch/arm64/include/uapi/asm/fcntl.h).
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_CLOEXEC = 0o2000000;
const O_DIRECTORY = process.arch === 'arm64' ? 0o40000 : 0o200000;
const O_NOFOLLOW = process.arch === 'arm64' ? 0o100000 : 0o400000;
const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_REMOVEDIR = 0x200;
const STATX_BASIC_STATS = 0x7ff;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const EINTR = 4;
const EAGAIN = 11;
const POLLIN = 1;
const POLLOUT = 4;
const ENOENT = 2;
const EEXIST = 17;

const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF, as Buffer's utf8 decoding (node:fs) does; bad bytes become U+FFFD in both.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** A NUL-terminated copy of `path` for the kernel (node:fs refuses a NUL inside a path; so do we). */
function cPath(path: string): Uint8Array {
  if (path.includes('\0'))
    throw Object.assign(
      new TypeError(
        `The argument 'path' must be a string, Uint8Array, or URL without null bytes. Received '${path.replace(/\0/g, '\\x00')}'`,
      ),
      { code: 'ERR_INVALID_ARG_VALUE' },
    );
  return encoder.encode(path + '\0');
}

/** `s.call` again while it fails with EINTR. */
function retry(s: Sys, name: Parameters<Sys['call']>[0], ...args: number[]): number {
  for (;;) {
    const r = s.call(name, ...args);
    if (r !== -EINTR) return r;
  }
}

function openRaw(s: Sys, path: string, flags: number, mode: number): number {
  const fd = retry(s, 'openat', AT_FDCWD, s.ptr(cPath(path)), flags | O_CLOEXEC, mode);
  if (fd < 0) throw errnoError(-fd, 'open', path);
  return fd;
}

/** close(2); never retried: one interrupted by a signal (EINTR) has released the descriptor all the same. */
function closeRaw(s: Sys, fd: number): void {
  const r = s.call('close', fd);
  if (r < 0 && r !== -EINTR) throw errnoError(-r, 'close');
}

function writeAllRaw(s: Sys, fd: number, data: string): void {
  const bytes = encoder.encode(data);
  for (let off = 0; off < bytes.length;) {
    const n = retry(s, 'write', fd, s.ptr(bytes.subarray(off)), bytes.length - off);
    if (n === -EAGAIN) {
      waitFor(s, fd, POLLOUT);
      continue;
    }
    if (n < 0) throw errnoError(-n, 'write');
    off += n;
  }
}

let scratch = new Uint8Array(16384);

/** ppoll(2) until `fd` is ready for `events` (or hung up): a non-blocking pipe handed to us as stdin or stdout. */
function waitFor(s: Sys, fd: number, events: number): void {
  const pollfd = new Int32Array([fd, events]); // struct pollfd { int fd; short events; short revents; }
  const r = retry(s, 'ppoll', s.ptr(new Uint8Array(pollfd.buffer)), 1, 0, 0, 8);
  if (r < 0) throw errnoError(-r, 'poll');
}

/** Read `fd` to its end (a /proc file says size 0: read until read(2) returns 0). */
function readAllRaw(s: Sys, fd: number): Uint8Array {
  let len = 0;
  for (;;) {
    if (len === scratch.length) {
      const bigger = new Uint8Array(scratch.length * 2);
      bigger.set(scratch);
      scratch = bigger;
    }
    const n = retry(s, 'read', fd, s.ptr(scratch.subarray(len)), scratch.length - len);
    if (n === -EAGAIN) {
      waitFor(s, fd, POLLIN);
      continue;
    }
    if (n < 0) throw errnoError(-n, 'read');
    if (n === 0) return scratch.subarray(0, len);
    len += n;
  }
}

/** The whole file as UTF-8 text (`readFileSync(path, 'utf8')`). */
export function readText(path: string): string {
  const s = raw();
  if (!s) return fs().readFileSync(path, 'utf8');
  const fd = openRaw(s, path, O_RDONLY, 0);
  try {
    return decoder.decode(readAllRaw(s, fd));
  } finally {
    closeRaw(s, fd);
  }
}

/**
 * All of stdin as text, as `readFileSync(0, 'utf8')` (a BOM kept, as Go's decoder sees it); a non-blocking pipe is
 * waited on. Under Bun this replaces `Bun.stdin.text()`, whose stream machinery costs a call ≈ 0.5 ms more.
 */
export function readStdinText(): string {
  const s = raw();
  return s ? decoder.decode(readAllRaw(s, 0)) : fs().readFileSync(0, 'utf8');
}

/** Write all of `data` to the open descriptor `fd` (stdout, stderr), waiting on a non-blocking pipe. */
export function writeFdText(fd: number, data: string): void {
  const s = raw();
  if (!s) return void fs().writeSync(fd, data);
  writeAllRaw(s, fd, data);
}

/** Create or truncate `path` and write `data` (`writeFileSync(path, data, {mode})`; `mode` applies on create). */
export function writeText(path: string, data: string, mode = 0o666): void {
  const s = raw();
  if (!s) return fs().writeFileSync(path, data, { mode });
  writeRaw(s, path, O_WRONLY | O_CREAT | O_TRUNC, mode, data);
}

/**
 * Create `path`, which must not exist (nor be a symlink: O_EXCL|O_NOFOLLOW), with `data` — EEXIST when it does.
 */
export function writeNewText(path: string, data: string, mode = 0o666): void {
  const flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
  const s = raw();
  if (!s) {
    const f = fs();
    const c = f.constants;
    const fd = f.openSync(path, c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, mode);
    try {
      f.writeSync(fd, data);
    } finally {
      f.closeSync(fd);
    }
    return;
  }
  writeRaw(s, path, flags, mode, data);
}

function writeRaw(s: Sys, path: string, flags: number, mode: number, data: string): void {
  const fd = openRaw(s, path, flags, mode);
  try {
    writeAllRaw(s, fd, data);
  } finally {
    closeRaw(s, fd);
  }
}

/** Whether `path` exists (`existsSync`: access(F_OK), false on any error). */
export function exists(path: string): boolean {
  const s = raw();
  if (!s) return fs().existsSync(path);
  if (path.includes('\0')) return false;
  return retry(s, 'faccessat', AT_FDCWD, s.ptr(cPath(path)), 0) === 0;
}

/** Throw unless `path` exists (`accessSync(path)`, F_OK). */
export function access(path: string): void {
  const s = raw();
  if (!s) return fs().accessSync(path);
  const r = retry(s, 'faccessat', AT_FDCWD, s.ptr(cPath(path)), 0);
  if (r < 0) throw errnoError(-r, 'access', path);
}

/** `statSync(path)` (follows symlinks), the fields our callers read. */
export const stat = (path: string): FileStat => statAny(path, false);

/** `lstatSync(path)` (a symlink is itself), the fields our callers read. */
export const lstat = (path: string): FileStat => statAny(path, true);

const statBuf = new Uint8Array(256);

function statAny(path: string, noFollow: boolean): FileStat {
  const s = raw();
  if (!s) return noFollow ? fs().lstatSync(path) : fs().statSync(path);
  const r = retry(
    s,
    'statx',
    AT_FDCWD,
    s.ptr(cPath(path)),
    noFollow ? AT_SYMLINK_NOFOLLOW : 0,
    STATX_BASIC_STATS,
    s.ptr(statBuf),
  );
  if (r < 0) throw errnoError(-r, noFollow ? 'lstat' : 'stat', path);
  // struct statx (<linux/stat.h>), the same on every architecture.
  const v = new DataView(statBuf.buffer, statBuf.byteOffset, statBuf.byteLength);
  const u64 = (off: number) => v.getUint32(off, true) + v.getUint32(off + 4, true) * 2 ** 32;
  const mode = v.getUint16(28, true);
  const major = v.getUint32(136, true);
  const minor = v.getUint32(140, true);
  return {
    // glibc's makedev, as libuv reports st_dev.
    dev: (major & 0xfff) * 2 ** 8 + Math.floor(major / 2 ** 12) * 2 ** 44 + (minor & 0xff) + (minor >>> 8) * 2 ** 20,
    ino: u64(32),
    size: u64(40),
    mtimeMs: (v.getInt32(116, true) * 2 ** 32 + v.getUint32(112, true)) * 1000 + v.getUint32(120, true) / 1e6,
    isFile: () => (mode & S_IFMT) === S_IFREG,
    isDirectory: () => (mode & S_IFMT) === S_IFDIR,
  };
}

/** `mkdirSync(path, {recursive: true, mode})`: every missing directory is created with `mode` (less the umask). */
export function mkdirp(path: string, mode = 0o777): void {
  const s = raw();
  if (!s) {
    fs().mkdirSync(path, { recursive: true, mode });
    return;
  }
  mkdirRaw(s, path, mode, path);
}

function mkdirRaw(s: Sys, dir: string, mode: number, asked: string): void {
  const r = retry(s, 'mkdirat', AT_FDCWD, s.ptr(cPath(dir)), mode);
  if (r === 0) return;
  if (r === -EEXIST) {
    // There already: fine when it is a directory (a file in the way is EEXIST, as node:fs says).
    let isDir = false;
    try {
      isDir = statAny(dir, false).isDirectory();
    } catch {
      /* reported as EEXIST below */
    }
    if (isDir) return;
    throw errnoError(EEXIST, 'mkdir', asked);
  }
  const parent = dir.replace(/\/+[^/]*\/*$/, '');
  if (r === -ENOENT && parent && parent !== dir) {
    mkdirRaw(s, parent, mode, asked);
    const again = retry(s, 'mkdirat', AT_FDCWD, s.ptr(cPath(dir)), mode);
    if (again === 0 || (again === -EEXIST && statAny(dir, false).isDirectory())) return;
    throw errnoError(-again, 'mkdir', asked);
  }
  throw errnoError(-r, 'mkdir', asked);
}

/**
 * The names in a directory, without `.` and `..`, sorted as node:fs returns them (libuv's scandir sorts by strcmp:
 * the same order as JavaScript's for every name without characters beyond U+FFFF).
 */
export function readDir(path: string): string[] {
  const s = raw();
  if (!s) return fs().readdirSync(path);
  const fd = retry(s, 'openat', AT_FDCWD, s.ptr(cPath(path)), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) throw errnoError(-fd, 'scandir', path);
  const names: string[] = [];
  try {
    const buf = new Uint8Array(32768);
    for (;;) {
      const n = retry(s, 'getdents64', fd, s.ptr(buf), buf.length);
      if (n < 0) throw errnoError(-n, 'scandir', path);
      if (n === 0) break;
      // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, d_name (NUL-terminated).
      for (let off = 0; off < n;) {
        const reclen = buf[off + 16] | (buf[off + 17] << 8);
        const start = off + 19;
        let end = start;
        while (end < off + reclen && buf[end] !== 0) end++;
        const name = decoder.decode(buf.subarray(start, end));
        if (name !== '.' && name !== '..') names.push(name);
        off += reclen;
      }
    }
  } finally {
    closeRaw(s, fd);
  }
  return names.sort();
}

/** `renameSync(from, to)`: replaces `to` atomically. */
export function rename(from: string, to: string): void {
  const s = raw();
  if (!s) return fs().renameSync(from, to);
  const r = retry(s, 'renameat2', AT_FDCWD, s.ptr(cPath(from)), AT_FDCWD, s.ptr(cPath(to)), 0);
  if (r < 0) throw errnoError(-r, 'rename', from, to);
}

/** `linkSync(existing, path)`: EEXIST when `path` exists. */
export function link(existing: string, path: string): void {
  const s = raw();
  if (!s) return fs().linkSync(existing, path);
  const r = retry(s, 'linkat', AT_FDCWD, s.ptr(cPath(existing)), AT_FDCWD, s.ptr(cPath(path)), 0);
  if (r < 0) throw errnoError(-r, 'link', existing, path);
}

/** `unlinkSync(path)`. */
export function unlink(path: string): void {
  const s = raw();
  if (!s) return fs().unlinkSync(path);
  const r = retry(s, 'unlinkat', AT_FDCWD, s.ptr(cPath(path)), 0);
  if (r < 0) throw errnoError(-r, 'unlink', path);
}

/** `rmdirSync(path)`: an empty directory (ENOTEMPTY otherwise). */
export function removeDir(path: string): void {
  const s = raw();
  if (!s) return fs().rmdirSync(path);
  const r = retry(s, 'unlinkat', AT_FDCWD, s.ptr(cPath(path)), AT_REMOVEDIR);
  if (r < 0) throw errnoError(-r, 'rmdir', path);
}

/** Remove a file if it is there (`rmSync(path, {force: true})` on a file). */
export function removeFile(path: string): void {
  try {
    unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Open `path` and return the descriptor: 'r' read-only, 'a' append (created with `mode` when missing), as
 * `openSync(path, flags, mode)`. Close it with `closeFile`.
 */
export function openFile(path: string, flags: 'r' | 'a', mode = 0o666): number {
  const s = raw();
  if (!s) return fs().openSync(path, flags, mode);
  return openRaw(s, path, flags === 'r' ? O_RDONLY : O_WRONLY | O_CREAT | O_APPEND, mode);
}

/** Read up to `buf.length` bytes at `position` (`readSync(fd, buf, 0, buf.length, position)`); 0 at the end. */
export function readAt(fd: number, buf: Uint8Array, position: number): number {
  const s = raw();
  if (!s) return fs().readSync(fd, buf, 0, buf.length, position);
  if (buf.length === 0) return 0;
  const n = retry(s, 'pread64', fd, s.ptr(buf), buf.length, position);
  if (n < 0) throw errnoError(-n, 'read');
  return n;
}

/** `closeSync(fd)`. */
export function closeFile(fd: number): void {
  const s = raw();
  if (!s) return fs().closeSync(fd);
  closeRaw(s, fd);
}
