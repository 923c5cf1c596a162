#!/usr/bin/env node
// Bundle plugin executables (and the CLI) into single self-contained files.
//   node tools/bundle.mjs                 every plugin and app with a "tscni.bin" entry
//   node tools/bundle.mjs loopback bridge only those
//   --if-stale                            skip when every output is newer than every source
import { build } from 'esbuild';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pluginRuntime } from './plugin-runtime.mjs';
import bundleAssets from './bundle-assets.cjs';

const { assetsOf } = bundleAssets;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// env -S -u: drop NODE_EXTRA_CA_CERTS, which costs ~40 ms per exec and is useless to a plugin.
const SHEBANG = '#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS -u NODE_OPTIONS node';

/** How every executable of ours is bundled (the Node bundles, the Bun multi-call entry, the benches' probes). */
export const ESBUILD_NODE_OPTIONS = Object.freeze({
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
});

/**
 * How the plugins are bundled (the Node bundles in dist/cni-bin, the Bun multi-call entry): as every executable, but
 * with `zod` replaced by @tscni/zod-run, the subset of zod 3 the plugins use (their sources keep zod's API and
 * types; packages/zod-run/test/equivalence.test.ts proves the two parse alike), so a plugin call evaluates no zod.
 */
export const ESBUILD_PLUGIN_OPTIONS = Object.freeze({
  ...ESBUILD_NODE_OPTIONS,
  alias: { zod: join(root, 'packages/zod-run/src/index.ts') },
});

/** Every project that declares `"tscni": {"bin": "<name>", "out": "cni-bin"|"bin"}` in its package.json. */
export function executables() {
  const found = [];
  const walk = (dir, depth) => {
    if (depth > 4 || !existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const pkgFile = join(dir, entry.name, 'package.json');
      if (existsSync(pkgFile)) {
        const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
        const entryFile = join(dir, entry.name, pkg.tscni?.entry ?? 'src/main.ts');
        if (pkg.tscni?.bin && existsSync(entryFile)) {
          found.push({
            name: pkg.tscni.bin,
            dir: join(dir, entry.name),
            entry: entryFile,
            out: join(root, 'dist', pkg.tscni.out ?? 'cni-bin', pkg.tscni.bin),
            assets: assetsOf(pkg, root),
          });
        }
      }
      walk(join(dir, entry.name), depth + 1);
    }
  };
  walk(join(root, 'packages'), 0);
  walk(join(root, 'apps'), 0);
  return found;
}

/** The newest mtime of any source file an executable is built from (tests excluded). */
export function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      // packages/testing holds test helpers only: no bundle contains it (checked below), so it never makes one stale
      if (
        entry.name === 'node_modules' ||
        entry.name === 'test' ||
        entry.name.startsWith('.') ||
        join(dir, entry.name) === join(root, 'packages', 'testing')
      )
        continue;
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (p.endsWith('.ts') || p.endsWith('package.json')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(root, 'packages'));
  if (existsSync(join(root, 'apps'))) walk(join(root, 'apps'));
  return newest;
}

export async function bundle({ names = [], ifStale = false } = {}) {
  const targets = executables().filter((t) => names.length === 0 || names.includes(t.name));
  if (names.length && targets.length !== names.length) throw new Error(`unknown executable among: ${names.join(' ')}`);
  if (ifStale) {
    const src = newestSource();
    if (targets.every((t) => existsSync(t.out) && statSync(t.out).mtimeMs > src)) return [];
  }
  const results = await Promise.allSettled(
    targets.map(async (t) => {
      mkdirSync(dirname(t.out), { recursive: true });
      writeMarker(join(dirname(t.out), 'package.json'), '{"type":"commonjs"}\n');
      const { outputFiles, metafile } = await build({
        entryPoints: [t.entry],
        outfile: t.out,
        write: false,
        ...(t.out.includes('/cni-bin/') ? ESBUILD_PLUGIN_OPTIONS : ESBUILD_NODE_OPTIONS),
        // The marker line lets `tscni install` tell our files from anyone else's before replacing them.
        banner: { js: `${SHEBANG}\n// tscni:${t.name}` },
        // The switch of tools/plugin-runtime.mjs, for `tscni install`'s default.
        define: { 'process.env.TSCNI_DEFAULT_PLUGIN_RUNTIME': JSON.stringify(pluginRuntime()) },
        logLevel: 'silent',
        metafile: true,
      });
      // Test code never ships: nothing from packages/testing or a project's test/ dir may end up in a bundle.
      const testCode = Object.keys(metafile.inputs).filter(
        (f) => !f.includes('node_modules/') && /(^|\/)(packages\/testing|test)\//.test(f),
      );
      if (testCode.length) throw new Error(`${t.name} would bundle test code: ${testCode.join(', ')}`);
      // Write then rename: a runtime exec'ing the plugin never sees a half-written file.
      const tmp = `${t.out}.tmp-${process.pid}`;
      writeFileSync(tmp, outputFiles[0].contents, { mode: 0o755 });
      chmodSync(tmp, 0o755);
      renameSync(tmp, t.out);
      // Files the executable reads at run time (the harness's proto), laid out beside it as in the repo.
      // An asset is a repo path (placed at the same path beside the executable) or {from, to} (to: relative
      // to the executable's dir, for a bundled library that reads `${__dirname}/../proto/…`).
      for (const asset of t.assets) {
        const { from, to } = typeof asset === 'string' ? { from: asset, to: asset } : asset;
        mkdirSync(dirname(join(dirname(t.out), to)), { recursive: true });
        copyFileSync(join(root, from), join(dirname(t.out), to));
      }
    }),
  );
  const failed = results.flatMap((r, i) =>
    r.status === 'rejected' ? [`${targets[i].name}: ${r.reason?.message ?? r.reason}`] : [],
  );
  if (failed.length) {
    const err = new Error(`bundling failed:\n${failed.join('\n')}`);
    err.built = targets.filter((_, i) => results[i].status === 'fulfilled');
    throw err;
  }
  return targets;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const built = await bundle({ names: args.filter((a) => !a.startsWith('--')), ifStale: args.includes('--if-stale') });
  for (const t of built) console.log(`built ${t.out.replace(root + '/', '')}`);
}

// Plugins running right now read this file at start-up: never truncate it, replace it atomically and only when it changes.
function writeMarker(file, content) {
  if (existsSync(file) && readFileSync(file, 'utf8') === content) return;
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}
