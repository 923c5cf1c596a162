import { exists } from '@tscni/cni/files';
import { CommandError, run } from '../host/runner';

export type IPFamily = 4 | 6;
const bin = (family: IPFamily, suffix = '') => (family === 4 ? 'iptables' : 'ip6tables') + suffix;

/** iptables is usable when its binary exists (the reference's autodetect looks at the same thing). */
export function iptablesAvailable(family: IPFamily = 4): boolean {
  return ['/usr/sbin/', '/sbin/', '/usr/bin/'].some((d) => exists(d + bin(family)));
}

export function nftAvailable(): boolean {
  return ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].some(exists);
}

/**
 * One iptables command. A bare `-w` waits for the xtables lock as long as it takes, like the reference:
 * under kube-proxy's lock contention ADD/DEL get slow, never fail.
 */
export async function iptables(
  family: IPFamily,
  table: string,
  args: readonly string[],
  netns?: string,
): Promise<string> {
  const { stdout } = await run(bin(family), ['-w', '-t', table, ...args], { netns });
  return stdout;
}

/** `iptables-save -t <table>` text. */
export async function iptablesSave(family: IPFamily, table: string, netns?: string): Promise<string> {
  const { stdout } = await run(bin(family, '-save'), ['-t', table], { netns });
  return stdout;
}

/** Apply a restore script with `--noflush`: many chain and rule changes in one process (waits for the lock). */
export async function iptablesRestore(family: IPFamily, script: string, netns?: string): Promise<void> {
  await run(bin(family, '-restore'), ['-w', '--noflush'], { input: script, netns });
}

/** The user chains that exist in a saved table. */
export function savedChains(saved: string): Set<string> {
  const out = new Set<string>();
  for (const line of saved.split('\n')) if (line.startsWith(':')) out.add(line.slice(1).split(' ')[0]);
  return out;
}

/** The `-A` rules of one chain in a saved table (without the `-A CHAIN ` prefix). */
export function savedRules(saved: string, chain: string): string[] {
  const prefix = `-A ${chain} `;
  return saved
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length));
}

export const isIptablesMissingChain = (err: unknown): boolean =>
  err instanceof CommandError && /No chain\/target\/match by that name|does not exist|doesn't exist/i.test(err.stderr);
