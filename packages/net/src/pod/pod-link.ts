import { exists } from '@tscni/cni/files';
import type { Result } from '@tscni/cni';
import { ifaceConfigCommands, ipv6Sysctls } from './configure-iface';
import { ipBatch, isNotFound } from '../host/ip';
import { jsonArray } from '../host/ip-json';
import { failedBatchLine } from '../host/tc';
import { getLink, type Link } from '../host/link';
import { netnsExists } from '../host/netns';
import { failureReason } from '../host/command-error';
import { CommandError } from '../host/runner';
import { writeSysctlsIn } from '../host/sysctl';

/**
 * The second half of every "one interface in the pod" plugin (macvlan, ipvlan, vlan, dummy, host-device):
 * a link that has just arrived in the pod netns under a temporary name is given `arp_notify`/`ndisc_notify`
 * (one `sysctl` process), then renamed to CNI_IFNAME, addressed, set up and routed in one `ip -batch`
 * inside the pod. If any of that fails, `undo` takes the link away again (deleted or moved back).
 */
export interface PodLinkArrival {
  netns: string;
  ifName: string;
  /** The name the link carries in the pod until it is renamed. */
  tmpName: string;
  /** Addresses and routes to apply (an IPAM result); without it the link is only set up. */
  result?: Result;
  /** Remove the link again; gets the name it has in the pod at that moment. */
  undo: (nameInPod: string) => Promise<void>;
}

/** Configure the arrived link; returns it as `ip -j link show` reports it after the rename. */
export async function settlePodLink(a: PodLinkArrival): Promise<Link> {
  const result = a.result ?? { cniVersion: '1.1.0' };
  try {
    await writeSysctlsIn(a.netns, { ...notifySysctls(a.tmpName), ...ipv6Sysctls(a.tmpName, result) });
    const out = await ipBatch(
      [
        ['link', 'set', 'dev', a.tmpName, 'name', a.ifName],
        ...ifaceConfigCommands(a.ifName, result, { ifIndex: 0 }),
        ['link', 'show', 'dev', a.ifName],
      ],
      a.netns,
      { json: true },
    );
    const shown = jsonArray<Link>(out)[0];
    if (!shown) throw new Error(`${a.ifName} vanished while it was being configured`);
    return shown;
  } catch (err) {
    await rollbackArrival(a).catch(() => {});
    throw settleError(a, err);
  }
}

function settleError(a: PodLinkArrival, err: unknown): Error {
  if (!(err instanceof CommandError)) return err as Error;
  const why = failureReason(err);
  if (/File exists/.test(why) && failedBatchLine(err) === 1) {
    return new Error(
      `failed to rename the new link to ${a.ifName}: an interface ${a.ifName} already exists in ${a.netns}`,
    );
  }
  return new Error(`failed to configure ${a.ifName} in ${a.netns}: ${why}`);
}

/** The batch stops at the first failing line: if the rename ran, the link is CNI_IFNAME, else still the temp name. */
async function rollbackArrival(a: PodLinkArrival): Promise<void> {
  if (await getLink(a.tmpName, a.netns)) return a.undo(a.tmpName);
  if (await getLink(a.ifName, a.netns)) return a.undo(a.ifName);
}

/** Gratuitous ARP / unsolicited NA when the link comes up or changes address (what the reference sets). */
function notifySysctls(dev: string): Record<string, string> {
  const key = dev.replace(/\./g, '/');
  const out: Record<string, string> = { [`net.ipv4.conf.${key}.arp_notify`]: '1' };
  if (exists('/proc/sys/net/ipv6/conf')) out[`net.ipv6.conf.${key}.ndisc_notify`] = '1';
  return out;
}

/** Delete CNI_IFNAME in the pod; success when the netns or the link is already gone (DEL is idempotent). */
export async function deletePodLink(netns: string, ifName: string): Promise<void> {
  if (!netnsExists(netns)) return;
  try {
    await ipBatch([['link', 'del', 'dev', ifName]], netns);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
