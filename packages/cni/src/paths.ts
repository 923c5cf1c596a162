/**
 * node:path's POSIX `join`, `dirname`, `basename`, `normalize` and `isAbsolute`, for the plugins' hot paths: under Bun
 * loading the `node:path` compat module costs a plugin call ≈ 1 ms of CPU (issue 18; with ./files, a hot path loads
 * neither node:fs nor node:path). Same results as node:path for every string (test/paths.test.ts); Linux only, so
 * POSIX only.
 */

/** `path.normalize`: `.` and `..` resolved, repeated slashes collapsed, a trailing slash kept. */
export function normalize(path: string): string {
  if (path.length === 0) return '.';
  const absolute = path[0] === '/';
  const trailing = path[path.length - 1] === '/';
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg !== '..') out.push(seg);
    else if (out.length && out[out.length - 1] !== '..') out.pop();
    else if (!absolute) out.push('..');
  }
  const joined = out.join('/');
  if (joined.length === 0) return absolute ? '/' : trailing ? './' : '.';
  return (absolute ? '/' : '') + joined + (trailing ? '/' : '');
}

/** `path.join`: the non-empty parts joined by `/`, normalized (`.` when there are none). */
export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p.length > 0).join('/');
  return joined.length === 0 ? '.' : normalize(joined);
}

/** `path.isAbsolute`. */
export const isAbsolute = (path: string): boolean => path.length > 0 && path[0] === '/';

/** `path.dirname` (node:path's algorithm, trailing slashes ignored). */
export function dirname(path: string): string {
  if (path.length === 0) return '.';
  const hasRoot = path[0] === '/';
  let end = -1;
  let matchedSlash = true;
  for (let i = path.length - 1; i >= 1; --i) {
    if (path[i] === '/') {
      if (!matchedSlash) {
        end = i;
        break;
      }
    } else matchedSlash = false;
  }
  if (end === -1) return hasRoot ? '/' : '.';
  if (hasRoot && end === 1) return '//';
  return path.slice(0, end);
}

/** `path.basename` without a suffix to strip (node:path's algorithm, trailing slashes ignored). */
export function basename(path: string): string {
  let start = 0;
  let end = -1;
  let matchedSlash = true;
  for (let i = path.length - 1; i >= 0; --i) {
    if (path[i] === '/') {
      if (!matchedSlash) {
        start = i + 1;
        break;
      }
    } else if (end === -1) {
      matchedSlash = false;
      end = i + 1;
    }
  }
  return end === -1 ? '' : path.slice(start, end);
}
