import { closeSync, openSync, readSync, statSync } from 'node:fs';

/**
 * Which of our plugins a file is, by the `// tscni:<name>` marker line our bundles carry right after the
 * shebang (what `tscni install` checks before replacing a file), or undefined for anyone else's binary.
 * Cached per path and invalidated when the file changes (inode, size or mtime), so a runtime asking on
 * every call pays one stat.
 */
const seen = new Map<string, { key: string; name: string | undefined }>();

export function ourBuildName(file: string): string | undefined {
  let key: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) return undefined;
    key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
  const hit = seen.get(file);
  if (hit?.key === key) return hit.name;
  const name = readMarker(file);
  seen.set(file, { key, name });
  return name;
}

function readMarker(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(256);
    const n = readSync(fd, head, 0, head.length, 0);
    return /\n\/\/ tscni:([a-z0-9-]+)\n/.exec(head.subarray(0, n).toString('latin1'))?.[1];
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
