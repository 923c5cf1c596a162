#!/usr/bin/env node
// The resident mode's plugin shim (docs/resident.md, issue 18): packages/cni-shim/src/shim.c compiled static, and a
// resident install laid out beside the Bun multi-call executable:
//   node tools/shim-build.mjs [--if-stale]
//     → dist/bun/cni-resident/tscni-shim, dist/bun/cni-resident/tscni-cni → ../cni-bin/tscni-cni,
//       dist/bun/cni-resident/<plugin> → tscni-shim for every plugin tscni-cni serves
// Needs dist/bun/cni-bin (tools/bun-build.mjs; the Nx target depends on cni-bun's build) and a C compiler with a
// static libc: `cc`, or $CC (Debian: gcc libc6-dev).
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appendMulticallTrailer, BUN_BIN_DIR, MULTICALL_NAME, swapDirIn } from './bun-build.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SHIM_SOURCE = join(root, 'packages/cni-shim/src/shim.c');
export const RESIDENT_DIR = join(root, 'dist/bun/cni-resident');
export const SHIM_NAME = 'tscni-shim';
/** How the shim is compiled: static (its start-up is the point of it), every warning an error. */
export const SHIM_CFLAGS = ['-O2', '-static', '-Wall', '-Wextra', '-Werror'];

/**
 * The names tscni-cni serves, read from the `// tscni-multicall:<names>` trailer tools/bun-build.mjs appended to it:
 * the shim carries the same line (so ourBuildName() sees its links as ours) and gets a link per name.
 */
export function multicallNames(exe = join(BUN_BIN_DIR, MULTICALL_NAME)) {
  if (!existsSync(exe)) throw new Error(`${relative(root, exe)} is missing: build it first (node tools/bun-build.mjs)`);
  const fd = openSync(exe, 'r');
  try {
    const size = statSync(exe).size;
    const tail = Buffer.alloc(Math.min(4096, size));
    const n = readSync(fd, tail, 0, tail.length, size - tail.length);
    const names = /\n\/\/ tscni-multicall:([a-z0-9,-]+)\n$/.exec(tail.toString('latin1', 0, n))?.[1].split(',');
    if (!names?.length) throw new Error(`${relative(root, exe)} has no tscni-multicall trailer`);
    return names;
  } finally {
    closeSync(fd);
  }
}

export function buildShim({ cc = process.env.CC || 'cc' } = {}) {
  const names = multicallNames();
  // Per build: two test runs starting at once may both find the shim stale.
  const work = join(root, `dist/bun/.shim-work-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  const fresh = join(work, 'cni-resident');
  mkdirSync(fresh, { recursive: true });
  const exe = join(fresh, SHIM_NAME);
  const r = spawnSync(cc, [...SHIM_CFLAGS, '-o', exe, SHIM_SOURCE], { encoding: 'utf8' });
  if (r.error)
    throw new Error(`${cc}: ${r.error.message} (the shim needs a C compiler and a static libc: gcc libc6-dev)`);
  if (r.status !== 0) throw new Error(`${cc} ${SHIM_SOURCE}: ${r.stderr || r.stdout}`);
  // The same trailer as tscni-cni's, after the ELF image (inert there).
  appendMulticallTrailer(exe, names);
  chmodSync(exe, 0o755);
  // The shim's fallback is tscni-cni in its own directory; symlinks keep the invoked name in argv[0].
  symlinkSync(relative(RESIDENT_DIR, join(BUN_BIN_DIR, MULTICALL_NAME)), join(fresh, MULTICALL_NAME));
  for (const name of names) symlinkSync(SHIM_NAME, join(fresh, name));
  // Swap the whole directory in, as tools/bun-build.mjs does: a test exec'ing a link never sees a half-built one.
  swapDirIn(fresh, RESIDENT_DIR, work);
  const file = join(RESIDENT_DIR, SHIM_NAME);
  return { file, names, bytes: statSync(file).size };
}

/** Build only when the source, this script or tscni-cni (its names) is newer than the shim, or a link is missing. */
export function buildShimIfStale() {
  const file = join(RESIDENT_DIR, SHIM_NAME);
  const inputs = [SHIM_SOURCE, fileURLToPath(import.meta.url), join(BUN_BIN_DIR, MULTICALL_NAME)];
  if (
    existsSync(file) &&
    inputs.every((f) => statSync(f).mtimeMs < statSync(file).mtimeMs) &&
    [MULTICALL_NAME, ...multicallNames()].every((n) => existsSync(join(RESIDENT_DIR, n)))
  )
    return undefined;
  return buildShim();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = process.argv.includes('--if-stale') ? buildShimIfStale() : buildShim();
  if (built)
    console.log(
      `built ${relative(root, built.file)} (${(built.bytes / 1e3).toFixed(0)} kB; ${built.names.length} links to it: ${built.names.join(' ')})`,
    );
}
