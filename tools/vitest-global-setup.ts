// Tests exec the bundled plugins, so make sure dist/ is current before any suite runs. A plugin that does
// not compile fails the run: its tests would otherwise exec a stale bundle or skip as "not built".
export default async function setup(): Promise<(() => void) | undefined> {
  // Which executables the suites exec: the Bun one (tools/bun-build.mjs) while the switch (tools/plugin-runtime.mjs)
  // says bun, its default; the Node bundles with TSCNI_PLUGIN_RUNTIME=node (tests that need one build name its
  // directory themselves). TSCNI_CNI_BIN is set here, before any worker starts, so every worker's DIST_BIN sees it.
  // @ts-expect-error plain ESM script without types
  const { pluginBinDir, pluginRuntime } = await import('./plugin-runtime.mjs');
  if (pluginRuntime() === 'bun' && !process.env.TSCNI_CNI_BIN) process.env.TSCNI_CNI_BIN = pluginBinDir('bun');
  // The ipMasq records (an nftables masquerade's backend) of every plugin a suite execs, the harness's and libcni's
  // included, land in a directory of this run, not in the node's /run/cni/ipmasq.
  let ipMasqDir: string | undefined;
  if (!process.env.TSCNI_IPMASQ_STATE_DIR) {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    process.env.TSCNI_IPMASQ_STATE_DIR = ipMasqDir = mkdtempSync(join(tmpdir(), 'tscni-ipmasq-'));
  }
  const teardown = ipMasqDir
    ? async () => (await import('node:fs')).rmSync(ipMasqDir!, { recursive: true, force: true })
    : undefined;
  if (process.getuid?.() === 0) {
    const { reapStaleTestNodes } = await import('@tscni/testing/node');
    const reaped = reapStaleTestNodes();
    if (reaped.length) console.warn(`reaped ${reaped.length} namespaces of a test run that died before its clean-up`);
  }
  // The kernel lane's guest execs what its host built just before boot (TSCNI_PREBUILT=1): it sees the host's
  // tree live, so a check for stale sources there would race the host's own run, and a build under emulation
  // takes many minutes.
  if (process.env.TSCNI_PREBUILT === '1') return teardown;
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
  // The resident install (dist/bun/cni-resident): the shim and its links, beside the executable it falls back to.
  // @ts-expect-error plain ESM script without types
  const { buildShimIfStale } = await import('./shim-build.mjs');
  buildShimIfStale();
  // @ts-expect-error plain ESM script without types
  const { buildBunHarnessIfStale } = await import('./bun-harness.mjs');
  await buildBunHarnessIfStale();
  return teardown;
}
