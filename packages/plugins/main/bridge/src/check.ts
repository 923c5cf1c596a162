import type { CmdArgs, Result } from '@tscni/cni';
import { checkPodInterface } from '@tscni/net/pod/link-check';
import { getLink } from '@tscni/net/host/link';
import type { BridgeConf } from './config';

const fail = (msg: string) => new Error(`bridge: ${msg}`);

/**
 * CHECK against prevResult: the container veth (MAC, addresses, routes), the bridge it names, and
 * the host veth: enslaved to that bridge and the peer of the container end.
 */
export async function checkBridge(args: CmdArgs, conf: BridgeConf, prev: Result): Promise<void> {
  const container = await checkPodInterface(args, prev, 'bridge', 'veth');
  const hostSide = (prev.interfaces ?? []).filter((i) => i.sandbox === undefined || i.sandbox === '');
  const brEntry = hostSide.find((i) => i.name === conf.bridge);
  if (!brEntry) throw fail(`bridge ${conf.bridge} not found in prevResult`);
  const br = await getLink(conf.bridge);
  if (!br || br.linkinfo?.info_kind !== 'bridge') throw fail(`bridge ${conf.bridge} does not exist or is not a bridge`);
  // No MAC comparison for the bridge: unless a gateway pinned it, it follows the lowest port MAC.

  const vethEntry = hostSide.find((i) => i.name !== conf.bridge);
  if (!vethEntry) throw fail('host veth not found in prevResult');
  const veth = await getLink(vethEntry.name);
  if (!veth) throw fail(`host veth ${vethEntry.name} does not exist`);
  if (veth.master !== conf.bridge) throw fail(`host veth ${vethEntry.name} is not attached to ${conf.bridge}`);
  if (container.link_index !== undefined && container.link_index !== veth.ifindex)
    throw fail(`${args.ifName} is not the peer of ${vethEntry.name}`);
}
