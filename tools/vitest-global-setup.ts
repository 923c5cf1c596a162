// Tests exec the bundled plugins, so make sure dist/ is current before any suite runs. A plugin that
// does not compile is reported but does not stop the other projects' suites.
export default async function setup(): Promise<void> {
  // @ts-expect-error plain ESM script without types
  const { bundle } = await import('./bundle.mjs');
  try {
    await bundle({ ifStale: true });
  } catch (err) {
    console.warn(String((err as Error).message));
  }
}
