import type { Result } from '@tscni/cni';
import { CniError, ErrorCode } from '@tscni/cni/errors';
import type { Link } from '@tscni/net/host';
import { getLink, listLinks } from '@tscni/net/host/link';
import { netnsExists } from '@tscni/net/host/netns';

/** The pod namespace must exist before anything is read or made: the reference opens it first. */
export function assertNetns(netns: string): void {
  if (!netnsExists(netns)) throw new CniError(ErrorCode.InvalidNetNS, `failed to open netns "${netns}"`);
}

/**
 * The host end of the pod's veth: the peer of CNI_IFNAME (read inside the pod netns), which must be
 * listed in the result's interfaces without a sandbox — the reference's rule, with its messages.
 * Both reads run side by side; their failures count in the order the reference meets them.
 */
export async function findHostVeth(netns: string, ifName: string, result: Result): Promise<Link> {
  assertNetns(netns);
  const [pod, host] = await Promise.allSettled([getLink(ifName, netns), listLinks()]);
  return hostVethOf(netns, ifName, result, pod, () =>
    host.status === 'fulfilled' ? Promise.resolve(host.value) : Promise.reject(host.reason),
  );
}

/**
 * The checks of `findHostVeth` on reads already made: the pod's link, and the host's links (asked for only once the
 * pod's link has passed, as the reference lists them only then).
 */
export async function hostVethOf(
  netns: string,
  ifName: string,
  result: Result,
  pod: PromiseSettledResult<Link | undefined>,
  hostLinks: () => Promise<Link[]>,
): Promise<Link> {
  if (pod.status === 'rejected') throw pod.reason;
  const podLink = pod.value;
  if (!podLink) throw new Error(`container interface ${ifName} not found in ${netns}`);
  if (podLink.linkinfo?.info_kind !== 'veth' || !podLink.link_index) {
    throw new Error(`container interface ${ifName} has no veth peer`);
  }
  const peer = (await hostLinks()).find((l) => l.ifindex === podLink.link_index && l.linkinfo?.info_kind === 'veth');
  if (!peer) throw new Error(`veth peer with index ${podLink.link_index} is not in host ns`);
  if (!(result.interfaces ?? []).some((i) => !i.sandbox && i.name === peer.ifname)) {
    throw new Error('no veth peer of container interface found in host ns');
  }
  return peer;
}
