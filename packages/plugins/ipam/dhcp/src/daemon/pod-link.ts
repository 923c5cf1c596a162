import { CommandError, failureReason } from '@tscni/net/host/command-error';
import { ipBatch, isNotFound } from '@tscni/net/host/ip';
import { jsonArray } from '@tscni/net/host/ip-json';
import { run } from '@tscni/net/host/runner';

/**
 * What the daemon does to the pod's interface, each in one `nsenter … ip -batch` process.
 * Limited broadcast (255.255.255.255) needs a route when the interface has no address or default route,
 * so one is held on the interface while broadcasts are being exchanged.
 */
const BCAST_ROUTE = ['route', 'replace', '255.255.255.255/32', 'dev'];

/** Route limited broadcast through the link (setting it up first when `up`), and return its MAC. */
export async function prepareForBroadcast(netns: string, ifName: string, up: boolean): Promise<string> {
  const cmds = [
    ...(up ? [['link', 'set', 'dev', ifName, 'up']] : []),
    [...BCAST_ROUTE, ifName],
    ['link', 'show', 'dev', ifName],
  ];
  let out: string;
  try {
    out = await ipBatch(cmds, netns, { json: true });
  } catch (err) {
    throw new Error(`error looking up ${JSON.stringify(ifName)} in ${netns}: ${failureReason(err)}`);
  }
  const link = jsonArray<{ address?: string; link_type?: string }>(out)[0];
  if (!link?.address || link.link_type !== 'ether') throw new Error(`${ifName}: not an ethernet interface`);
  return link.address;
}

export async function dropBroadcastRoute(netns: string, ifName: string): Promise<void> {
  try {
    await ipBatch([['route', 'del', '255.255.255.255/32', 'dev', ifName]], netns);
  } catch {
    /* gone with the link, or never added */
  }
}

/** The MAC of the interface, or undefined when the interface (or namespace) is gone. */
export async function linkMac(netns: string, ifName: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('ip', ['-j', 'link', 'show', 'dev', ifName], { netns });
    return jsonArray<{ address?: string }>(stdout)[0]?.address;
  } catch (err) {
    if (isNotFound(err) || err instanceof CommandError) return undefined;
    throw err;
  }
}

/** An expired lease takes the interface down, like the reference. */
export async function setLinkDown(netns: string, ifName: string): Promise<void> {
  await ipBatch([['link', 'set', 'dev', ifName, 'down']], netns);
}
