import { exists } from '@tscni/cni/files';
import { run } from './runner';

export const NETNS_RUN_DIR = '/var/run/netns';

/** A namespace path is usable when it exists (a pinned bind mount or /proc/<pid>/ns/net). */
export const netnsExists = (path: string): boolean => !!path && exists(path);

/** `ip netns add`: a pinned namespace at /var/run/netns/<name>; returns its path. */
export async function addNamedNetns(name: string): Promise<string> {
  await run('ip', ['netns', 'add', name]);
  return `${NETNS_RUN_DIR}/${name}`;
}

export async function deleteNamedNetns(name: string): Promise<void> {
  try {
    await run('ip', ['netns', 'delete', name]);
  } catch {
    /* already gone */
  }
}
