// Tests exec the bundled plugins, so make sure dist/ is current before any suite runs.
export default async function setup(): Promise<void> {
  // @ts-expect-error plain ESM script without types
  const { bundle } = await import('./bundle.mjs');
  await bundle({ ifStale: true });
}
