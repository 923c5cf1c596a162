import { basename } from './paths';
import { closeFile, openFile, readAt, stat } from './files';

/**
 * Which of our plugins a file is, or undefined for anyone else's binary:
 * - a Node bundle carries the `// tscni:<name>` marker line right after its shebang (what `tscni install`
 *   checks before replacing a file);
 * - the Bun multi-call executable (tools/bun-build.mjs) ends with a `// tscni-multicall:<name>,<name>,…` line
 *   after its ELF image, and is each plugin it names when invoked through a link (hard or symbolic) of that name,
 *   which is the name it dispatches on (argv0), so the name is the path's own basename.
 * Cached per path and invalidated when the file changes (inode, size or mtime), so a runtime asking on
 * every call pays one stat.
 */
const seen = new Map<string, { key: string; name: string | undefined }>();

export function ourBuildName(file: string): string | undefined {
  let key: string;
  let size: number;
  try {
    const st = stat(file);
    if (!st.isFile()) return undefined;
    key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    size = st.size;
  } catch {
    return undefined;
  }
  const hit = seen.get(file);
  if (hit?.key === key) return hit.name;
  const name = readMarker(file, size);
  seen.set(file, { key, name });
  return name;
}

const MULTICALL_TAIL = 1024;

function readMarker(file: string, size: number): string | undefined {
  let fd: number | undefined;
  try {
    fd = openFile(file, 'r');
    const head = new Uint8Array(256);
    const n = readAt(fd, head, 0);
    const bundle = /\n\/\/ tscni:([a-z0-9-]+)\n/.exec(latin1(head.subarray(0, n)))?.[1];
    if (bundle || latin1(head.subarray(0, 4)) !== '\x7fELF') return bundle;
    const tail = new Uint8Array(Math.min(MULTICALL_TAIL, size));
    const m = readAt(fd, tail, size - tail.length);
    const names = /\n\/\/ tscni-multicall:([a-z0-9,-]+)\n$/.exec(latin1(tail.subarray(0, m)))?.[1].split(',');
    const invokedAs = basename(file);
    return names?.includes(invokedAs) ? invokedAs : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeFile(fd);
  }
}

/** Bytes as text, one character per byte (what `Buffer#toString('latin1')` gives). */
const latin1 = (bytes: Uint8Array): string => String.fromCharCode(...bytes);
