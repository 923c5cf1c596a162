import { randomUUID } from 'node:crypto';
import { existsSync, realpathSync, statfsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { NETNS_RUN_DIR, run } from '@tscni/net/host';

const NAME = /^cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A fresh path for a pod netns, named like containerd's: /var/run/netns/cni-<uuid>. */
export const newPodNetnsPath = (): string => `${NETNS_RUN_DIR}/cni-${randomUUID()}`;

/** The netns name of a path we generated; anything else is refused before it reaches a command. */
function nameOf(path: string): string {
  const name = path.slice(NETNS_RUN_DIR.length + 1);
  if (!path.startsWith(`${NETNS_RUN_DIR}/`) || !NAME.test(name))
    throw new Error(`not a pod netns path: ${JSON.stringify(path)}`);
  return name;
}

/** Create and pin the network namespace at `path` (`ip netns add`). */
export async function createPodNetns(path: string): Promise<void> {
  await run('ip', ['netns', 'add', nameOf(path)]);
}

/** Unpin and remove it; a netns that is already gone is fine. */
export async function removePodNetns(path: string): Promise<void> {
  const name = nameOf(path);
  if (!existsSync(path)) return;
  await run('ip', ['netns', 'delete', name]);
}

const NSFS_MAGIC = 0x6e736673;

/** True when `path` is a network namespace (a bind mount of nsfs), not a plain file left by a lost mount. */
export function isNetns(path: string): boolean {
  try {
    return statfsSync(path).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Where a pod's netns can still be reached, or '' when it cannot (CNI's way to say "gone": plugins then release
 * their host-side state only). The pinning bind mount lives in the mount namespace of the harness that made it;
 * after a restart in another mount namespace (systemd PrivateMounts, `ip netns exec`, a container) our path is a
 * plain file, but that namespace lives on while processes it started (pause processes) do: the netns is then
 * reached through their /proc/<pid>/root.
 */
export function reachableNetns(path: string, holders: number[]): string {
  nameOf(path);
  if (isNetns(path)) return path;
  let real = path;
  try {
    // /var/run is an absolute symlink: resolved through /proc/<pid>/root it would land in our own namespace.
    real = join(realpathSync(dirname(path)), basename(path));
  } catch {
    /* the directory is gone too */
  }
  for (const pid of holders) {
    const candidate = `/proc/${pid}/root${real}`;
    if (isNetns(candidate)) return candidate;
  }
  return '';
}
