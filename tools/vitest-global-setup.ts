// Tests exec the bundled plugins, so make sure dist/ is current before any suite runs. A plugin that does
// not compile fails the run: its tests would otherwise exec a stale bundle or skip as "not built".
export default async function setup(): Promise<void> {
  // Which executables the suites exec: the Bun one (tools/bun-build.mjs) while the switch (tools/plugin-runtime.mjs)
  // says bun, its default; the Node bundles with TSCNI_PLUGIN_RUNTIME=node (tests that need one build name its
  // directory themselves). TSCNI_CNI_BIN is set here, before any worker starts, so every worker's DIST_BIN sees it.
  // @ts-expect-error plain ESM script without types
  const { pluginBinDir, pluginRuntime } = await import('./plugin-runtime.mjs');
  if (pluginRuntime() === 'bun' && !process.env.TSCNI_CNI_BIN) process.env.TSCNI_CNI_BIN = pluginBinDir('bun');
  if (process.getuid?.() === 0) {
    const { reapStaleTestNodes } = await import('@tscni/testing/node');
    const reaped = reapStaleTestNodes();
    if (reaped.length) console.warn(`reaped ${reaped.length} namespaces of a test run that died before its clean-up`);
  }
  // The kernel lane's guest execs what its host built just before boot (TSCNI_PREBUILT=1): it sees the host's
  // tree live, so a check for stale sources there would race the host's own run, and a build under emulation
  // takes many minutes.
  if (process.env.TSCNI_PREBUILT === '1') return;
  // @ts-expect-error plain ESM script without types
  const { bundle } = await import('./bundle.mjs');
  try {
    await bundle({ ifStale: true });
  } catch (err) {
    throw new Error((err as Error).message); // the message names each failed executable; drop the list of built ones
  }
  // @ts-expect-error plain ESM script without types
  const { buildBunIfStale } = await import('./bun-build.mjs');
  await buildBunIfStale();
  // @ts-expect-error plain ESM script without types
  const { buildBunHarnessIfStale } = await import('./bun-harness.mjs');
  await buildBunHarnessIfStale();
}
