// Tests exec the bundled plugins, so make sure dist/ is current before any suite runs. A plugin that
// does not compile is reported but does not stop the other projects' suites.
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
    console.warn(String((err as Error).message));
  }
}
