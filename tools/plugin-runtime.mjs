// The one switch of issue 18 (docs/performance.md): which build of the plugins is the default —
//   'bun':  dist/bun/cni-bin, one Bun executable for every plugin with a symlink per name (tools/bun-build.mjs),
//           nothing else needed on the node — the default;
//   'node': dist/cni-bin, one esbuild bundle per plugin, run by the node's Node.js (>= 20).
// It decides what the test suites exec (tools/vitest-global-setup.ts sets TSCNI_CNI_BIN unless it is set), what
// `tscni install` installs without --runtime (baked into the CLI by tools/bundle.mjs), what the kernel lane's guest
// execs (e2e/kernel-lane/run.mjs) and what the npm package of every plugin, @tscni/cni-plugins, ships
// (tools/stage-packages.mjs; the per-plugin packages ship the Node bundle). TSCNI_PLUGIN_RUNTIME=node|bun overrides
// it for one run or build.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// The switch itself is `tscni.pluginRuntime` in the root package.json, where code that may not import tools/ (the
// test helpers' DIST_BIN, the bench scripts) reads it too.
export const DEFAULT_PLUGIN_RUNTIME = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).tscni.pluginRuntime;

export function pluginRuntime(env = process.env) {
  const r = env.TSCNI_PLUGIN_RUNTIME || DEFAULT_PLUGIN_RUNTIME;
  if (r !== 'node' && r !== 'bun')
    throw new Error(`TSCNI_PLUGIN_RUNTIME must be node or bun, not ${JSON.stringify(r)}`);
  return r;
}

/** Where the plugins of `runtime` are built. */
export const pluginBinDir = (runtime = pluginRuntime()) =>
  join(root, runtime === 'bun' ? 'dist/bun/cni-bin' : 'dist/cni-bin');

// `node tools/plugin-runtime.mjs` prints the runtime in force (for scripts that may not import tools/, e.g. the kernel lane).
if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(pluginRuntime());
