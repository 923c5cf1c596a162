#!/usr/bin/env node
// The CRI harness as a Bun executable (issue 18, docs/performance.md): the harness calls our plugins in-process, so
// a pod's CNI time is the processes they spawn, and a spawn from Bun (posix_spawn) costs less than one from a Node
// process of the harness's size (fork). Same entry and esbuild options as the Node bundle (tools/bundle.mjs),
// compiled with the plugins' flags (tools/bun-build.mjs), self-contained: the files the Node bundle reads beside
// itself at run time (the CRI proto, etcd3's protos) are embedded with `--asset` in the same layout.
//   node tools/bun-harness.mjs [--if-stale]     → dist/bun/bin/tscni-cri
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { ESBUILD_NODE_OPTIONS, executables, newestSource } from './bundle.mjs';
import { bunCompileFlags, findBun } from './bun-build.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NAME = 'tscni-cri';
export const BUN_HARNESS = join(root, 'dist/bun/bin', NAME);
/**
 * Where a compiled executable finds its `--asset` files (Bun's embedded file system; the entry's `import.meta.dir`).
 * The bundle's `__dirname` is defined as its `bin/` below it, where the assets sit as they sit beside
 * dist/bin/tscni-cri — Bun would otherwise bake in the build machine's directory of the bundle.
 */
const EMBEDDED_ROOT = '/$bunfs/root';

export async function buildBunHarness({ bun = findBun() } = {}) {
  const harness = executables().find((t) => t.name === NAME);
  if (!harness) throw new Error(`no project declares the executable ${NAME}`);
  // Per build: two test runs starting at once may both find the executable stale.
  const work = join(root, `dist/bun/.harness-work-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  // The assets as tools/bundle.mjs lays them out beside the executable (`to` may climb out of bin/: etcd3's ../proto),
  // in a tree whose top-level entries Bun embeds under their own names (`--asset=DIR` keeps DIR's name and below).
  const tree = join(work, 'assets');
  for (const asset of harness.assets) {
    const { from, to } = typeof asset === 'string' ? { from: asset, to: asset } : asset;
    const dest = join(tree, 'bin', to);
    if (!dest.startsWith(`${tree}/`)) throw new Error(`asset ${to} would land outside the executable's tree`);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(join(root, from), dest);
  }
  const bundleFile = join(work, `${NAME}.cjs`);
  await build({
    entryPoints: [harness.entry],
    outfile: bundleFile,
    ...ESBUILD_NODE_OPTIONS,
    define: { __dirname: JSON.stringify(`${EMBEDDED_ROOT}/bin`) },
    // proto.ts's import.meta branch is for the sources (vitest), dead in a bundle: esbuild's warning about it is noise.
    logLevel: 'error',
  });
  const exe = join(work, NAME);
  const assets = existsSync(tree) ? readdirSync(tree).map((entry) => `--asset=${join(tree, entry)}`) : [];
  const r = spawnSync(bun, ['build', ...bunCompileFlags(), ...assets, bundleFile, '--outfile', exe], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`bun build --compile: ${r.stderr || r.stdout}`);
  chmodSync(exe, 0o755);
  // Rename over the old one: a harness starting right now execs either the old file or the new, never half of one.
  mkdirSync(dirname(BUN_HARNESS), { recursive: true });
  renameSync(exe, BUN_HARNESS);
  rmSync(work, { recursive: true, force: true });
  return { file: BUN_HARNESS, bytes: statSync(BUN_HARNESS).size };
}

/** Build only when a source file is newer than the executable (for the vitest global setup). */
export async function buildBunHarnessIfStale() {
  if (existsSync(BUN_HARNESS) && statSync(BUN_HARNESS).mtimeMs > newestSource()) return undefined;
  return buildBunHarness();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = process.argv.includes('--if-stale') ? await buildBunHarnessIfStale() : await buildBunHarness();
  if (built) console.log(`built ${relative(root, built.file)} (${(built.bytes / 1e6).toFixed(0)} MB)`);
}
