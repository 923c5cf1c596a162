/**
 * Chains of steps side by side: the steps of one chain run one after another (a failure ends its chain), the chains
 * at once, and all settle before this returns (an undo that follows cannot race a step). Each step carries its rank:
 * its place when every step ran one after another. The failure with the lowest rank is thrown — the one the serial
 * code reported first.
 */
export type RankedStep = readonly [rank: number, step: () => Promise<unknown>];

export async function rankedSideBySide(chains: readonly (readonly RankedStep[])[]): Promise<void> {
  const failures: { rank: number; err: unknown }[] = [];
  await Promise.all(
    chains.map(async (chain) => {
      for (const [rank, step] of chain) {
        try {
          await step();
        } catch (err) {
          failures.push({ rank, err });
          return;
        }
      }
    }),
  );
  if (failures.length) throw failures.reduce((a, b) => (b.rank < a.rank ? b : a)).err;
}
