import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { NETNS_RUN_DIR, run } from '@tscni/net';

const NAME = /^cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A fresh path for a pod netns, named like containerd's: /var/run/netns/cni-<uuid>. */
export const newPodNetnsPath = (): string => `${NETNS_RUN_DIR}/cni-${randomUUID()}`;

/** The netns name of a path we generated; anything else is refused before it reaches a command. */
function nameOf(path: string): string {
  const name = path.slice(NETNS_RUN_DIR.length + 1);
  if (!path.startsWith(`${NETNS_RUN_DIR}/`) || !NAME.test(name)) throw new Error(`not a pod netns path: ${JSON.stringify(path)}`);
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
