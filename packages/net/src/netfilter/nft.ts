import { CommandError, run } from '../host/runner';

/** `nft -j <args>` parsed (the `nftables` array). */
export async function nftJson(args: readonly string[], netns?: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await run('nft', ['-j', ...args], { netns });
  if (!stdout.trim()) return [];
  return (JSON.parse(stdout) as { nftables: Record<string, unknown>[] }).nftables;
}

/** Apply an nft script atomically (`nft -f -`). */
export async function nftApply(script: string, netns?: string): Promise<void> {
  await run('nft', ['-f', '-'], { input: script, netns });
}

export const isNftMissing = (err: unknown): boolean =>
  err instanceof CommandError && /No such file or directory|does not exist/i.test(err.stderr);

/** Rules of a chain with their handles and comments. */
export async function nftChainRules(
  family: string,
  table: string,
  chain: string,
  netns?: string,
): Promise<{ handle: number; comment?: string }[]> {
  try {
    const items = await nftJson(['list', 'chain', family, table, chain], netns);
    return items.filter((i) => 'rule' in i).map((i) => i.rule as { handle: number; comment?: string });
  } catch (err) {
    if (isNftMissing(err)) return [];
    throw err;
  }
}
