import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { CniError, ErrorCode } from '@tscni/cni/errors';
import type { Link } from '@tscni/net/host';
import { CommandError, failureReason } from '@tscni/net/host/command-error';
import { ipBatch, isExists } from '@tscni/net/host/ip';
import { getLink, listLinks } from '@tscni/net/host/link';
import { withFileLock } from '@tscni/net/host/lock';
import { netnsExists } from '@tscni/net/host/netns';
import { requirePodNetns } from '@tscni/net/pod/link-attachment';
import { linkNameField } from '@tscni/net/pod/link-conf';
import { enslave } from './enslave';

/** NetConf of vrf: `vrfname` (required) and `table` (0 or absent: the VRF gets a free one). */
const VrfConf = lazySchema(() =>
  z
    .object({
      vrfname: z.string({ required_error: 'configuration is expected to have a valid vrf name' }).pipe(linkNameField),
      table: z.number().int().min(0).max(0xffffffff).optional(),
    })
    .passthrough(),
);
type VrfConf = z.infer<typeof VrfConf>;

type VrfLink = Link & { linkinfo?: { info_kind?: string; info_data?: { table?: number } } };
const vrfTable = (l: VrfLink): number | undefined => l.linkinfo?.info_data?.table;
const fail = (msg: string) => new CniError(ErrorCode.Internal, `vrf: ${msg}`);

/** Put CNI_IFNAME into the VRF, creating the VRF when the pod has none of that name. */
async function add(args: CmdArgs): Promise<Result> {
  const conf = args.parse(VrfConf);
  const prev = args.prevResult();
  if (!prev) throw new CniError(ErrorCode.InvalidNetworkConfig, 'missing prevResult from earlier plugin');
  requirePodNetns(args);
  // Interfaces of one pod join or leave a VRF one at a time (the last one out removes it).
  await withFileLock(args.netns, async () => {
    let vrf = await findVrf(args.netns, conf.vrfname);
    if (vrf && conf.table && vrfTable(vrf) !== conf.table)
      throw fail(`VRF ${conf.vrfname} already exist with different routing table ${vrfTable(vrf)}`);
    const created = !vrf;
    if (!vrf) vrf = await createVrf(args.netns, conf);
    try {
      await enslave(args.netns, args.ifName, conf.vrfname, vrfTable(vrf)!);
    } catch (err) {
      if (created) await ipBatch([['link', 'del', 'dev', conf.vrfname]], args.netns).catch(() => {});
      throw err;
    }
  });
  return prev;
}

async function findVrf(netns: string, name: string): Promise<VrfLink | undefined> {
  const link = (await getLink(name, netns)) as VrfLink | undefined;
  if (link && link.linkinfo?.info_kind !== 'vrf') throw fail(`Netlink ${name} is not a VRF`);
  return link;
}

/** A new VRF, up; its table is the configured one or the first that no other VRF of the pod uses (from 1). */
async function createVrf(netns: string, conf: VrfConf): Promise<VrfLink> {
  let table = conf.table || 0;
  if (!table) {
    const taken = new Set((await listLinks(netns)).map((l) => vrfTable(l as VrfLink)).filter((t) => t !== undefined));
    for (table = 1; taken.has(table); table++);
  }
  try {
    await ipBatch(
      [
        ['link', 'add', 'name', conf.vrfname, 'type', 'vrf', 'table', table],
        ['link', 'set', 'dev', conf.vrfname, 'up'],
      ],
      netns,
    );
  } catch (err) {
    if (isExists(err)) return (await findVrf(netns, conf.vrfname))!;
    await ipBatch([['link', 'del', 'dev', conf.vrfname]], netns).catch(() => {});
    throw vrfCreateError(conf.vrfname, err);
  }
  const made = await findVrf(netns, conf.vrfname);
  if (!made) throw fail(`VRF ${conf.vrfname} vanished right after it was created`);
  return made;
}

function vrfCreateError(name: string, err: unknown): Error {
  if (!(err instanceof CommandError)) return err as Error;
  const why = failureReason(err);
  if (/Unknown device type|Operation not supported|not supported/i.test(why)) {
    return fail(`could not add VRF ${name}: the kernel has no VRF support (CONFIG_NET_VRF): ${why}`);
  }
  return fail(`could not add VRF ${name}: ${why}`);
}

/** DEL takes the interface out of the VRF and removes the VRF when it has no interface left. */
async function del(args: CmdArgs): Promise<void> {
  const conf = args.parse(VrfConf);
  if (!args.netns || !netnsExists(args.netns)) return;
  await withFileLock(args.netns, async () => {
    const vrf = (await getLink(conf.vrfname, args.netns)) as VrfLink | undefined;
    if (!vrf || vrf.linkinfo?.info_kind !== 'vrf') return;
    const links = await listLinks(args.netns);
    const iface = links.find((l) => l.ifname === args.ifName);
    const cmds: (string | number)[][] = [];
    if (iface?.master === conf.vrfname) cmds.push(['link', 'set', 'dev', args.ifName, 'nomaster']);
    if (!links.some((l) => l.master === conf.vrfname && l.ifname !== args.ifName))
      cmds.push(['link', 'del', 'dev', conf.vrfname]);
    await ipBatch(cmds, args.netns);
  });
}

/** CHECK: the VRF is there (with the configured table) and CNI_IFNAME is one of its interfaces. */
async function check(args: CmdArgs): Promise<void> {
  const conf = args.parse(VrfConf);
  if (!args.prevResult()) throw new CniError(ErrorCode.InvalidNetworkConfig, 'missing prevResult from earlier plugin');
  const vrf = await findVrf(args.netns, conf.vrfname);
  if (!vrf) throw fail(`VRF ${conf.vrfname} not found in ${args.netns}`);
  if (conf.table && vrfTable(vrf) !== conf.table)
    throw fail(`VRF ${conf.vrfname} uses table ${vrfTable(vrf)}, not ${conf.table}`);
  const iface = await getLink(args.ifName, args.netns);
  if (iface?.master !== conf.vrfname) throw fail(`failed to find ${args.ifName} associated to vrf ${conf.vrfname}`);
}

export const vrf: PluginFuncs = { add, del, check };
