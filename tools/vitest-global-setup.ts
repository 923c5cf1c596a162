// Tests exec the bundled plugins, so make sure dist/ is current before any suite runs. A plugin that does
// not compile fails the run: its tests would otherwise exec a stale bundle or skip as "not built".
export default async function setup(): Promise<void> {
  // @ts-expect-error plain ESM script without types
  const { bundle } = await import('./bundle.mjs');
  if (process.getuid?.() === 0) {
    const { reapStaleTestNodes } = await import('../packages/net/src/testing');
    const reaped = reapStaleTestNodes();
    if (reaped.length) console.warn(`reaped ${reaped.length} namespaces of a test run that died before its clean-up`);
  }
  try {
    await bundle({ ifStale: true });
  } catch (err) {
    throw new Error((err as Error).message); // the message names each failed executable; drop the list of built ones
  }
}
