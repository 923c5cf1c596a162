import { readText } from '@tscni/cni/files';
import { ipJson, isNotFound } from './ip';

export interface Link {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  operstate: string;
  address?: string;
  link?: string;
  link_index?: number;
  link_netnsid?: number;
  master?: string;
  txqlen?: number;
  ifalias?: string;
  promiscuity?: number;
  linkinfo?: {
    info_kind?: string;
    info_data?: Record<string, unknown>;
    info_slave_kind?: string;
    info_slave_data?: Record<string, unknown>;
  };
}

/** Every link (with details) in the namespace. */
export const listLinks = (netns?: string): Promise<Link[]> => ipJson<Link[]>(['-d', 'link', 'show'], netns);

/** One link by name, or undefined when it does not exist (or the namespace is gone). */
export async function getLink(name: string, netns?: string): Promise<Link | undefined> {
  try {
    const links = await ipJson<Link[]>(['-d', 'link', 'show', 'dev', name], netns);
    return links[0];
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export const isUp = (link: Link): boolean => link.flags.includes('UP');

/**
 * Whether a link of that name exists in the namespace this process runs in, read from /proc/net/dev (no process
 * spawned; /proc/net shows the reader's own namespace). True when that file cannot be read: the caller then asks `ip`.
 */
export function linkExistsHere(name: string): boolean {
  let dev: string;
  try {
    dev = readText('/proc/net/dev');
  } catch {
    return true;
  }
  // Two header lines, then `  <name>: <counters>` (a link name never holds a colon).
  return dev
    .split('\n')
    .slice(2)
    .some((line) => line.includes(':') && line.slice(0, line.indexOf(':')).trim() === name);
}
