/**
 * Start independent steps at once and wait for every one of them (nothing keeps running behind a failure, so an
 * undo that follows cannot race a step). The failures come back in the steps' order: what running them one after
 * another, going on past each failure, would have collected.
 */
export async function failuresOf(steps: readonly (() => Promise<unknown>)[]): Promise<unknown[]> {
  const settled = await Promise.allSettled(steps.map(async (step) => step()));
  return settled.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
}

/** `failuresOf`, then the first failure (in the steps' order) thrown. */
export async function sideBySide(steps: readonly (() => Promise<unknown>)[]): Promise<void> {
  const failures = await failuresOf(steps);
  if (failures.length) throw failures[0];
}
