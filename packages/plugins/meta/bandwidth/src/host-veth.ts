import type { Result } from '@tscni/cni';
import { CniError, ErrorCode } from '@tscni/cni/errors';
import type { Link } from '@tscni/net/host';
import { getLink, listLinks } from '@tscni/net/host/link';
import { netnsExists } from '@tscni/net/host/netns';

/**
 * The host end of the pod's veth: the peer of CNI_IFNAME (read inside the pod netns), which must be
 * listed in the result's interfaces without a sandbox — the reference's rule, with its messages.
 */
export async function findHostVeth(netns: string, ifName: string, result: Result): Promise<Link> {
  if (!netnsExists(netns)) throw new CniError(ErrorCode.InvalidNetNS, `failed to open netns "${netns}"`);
  const podLink = await getLink(ifName, netns);
  if (!podLink) throw new Error(`container interface ${ifName} not found in ${netns}`);
  if (podLink.linkinfo?.info_kind !== 'veth' || !podLink.link_index) {
    throw new Error(`container interface ${ifName} has no veth peer`);
  }
  const hostLinks = await listLinks();
  const peer = hostLinks.find((l) => l.ifindex === podLink.link_index && l.linkinfo?.info_kind === 'veth');
  if (!peer) throw new Error(`veth peer with index ${podLink.link_index} is not in host ns`);
  if (!(result.interfaces ?? []).some((i) => !i.sandbox && i.name === peer.ifname)) {
    throw new Error('no veth peer of container interface found in host ns');
  }
  return peer;
}
