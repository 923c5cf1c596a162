import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import {
  ipamCheck,
  podInterfaceResult,
  requirePodNetns,
  createdLinkVerbs,
  withIpamOnCreatedLink,
} from '@tscni/net/pod/link-attachment';
import { checkPodInterface } from '@tscni/net/pod/link-check';
import { linkNameField, mtuField } from '@tscni/net/pod/link-conf';
import { checkMtuWithinMaster, createPodLink, resolveMaster } from '@tscni/net/pod/master-link';

/** NetConf of vlan: `master` and `vlanId` are required (the upstream docs' "default master" is wrong). */
const VlanConf = lazySchema(() =>
  z
    .object({
      master: linkNameField,
      vlanId: z.number().int().min(0).max(4094),
      mtu: mtuField.optional(),
      linkInContainer: z.boolean().optional(),
      ipam: z.object({ type: z.string().min(1) }).passthrough(),
    })
    .passthrough(),
);

async function add(args: CmdArgs): Promise<Result> {
  const conf = args.parse(VlanConf);
  requirePodNetns(args);
  const master = await resolveMaster({ master: conf.master, linkInContainer: conf.linkInContainer, netns: args.netns });
  checkMtuWithinMaster(conf.mtu, master);
  return withIpamOnCreatedLink(args, conf.ipam.type, async (ipam) => {
    const link = await createPodLink({
      netns: args.netns,
      ifName: args.ifName,
      master: master.ifname,
      masterInPod: conf.linkInContainer,
      type: ['vlan', 'id', conf.vlanId],
      mtu: conf.mtu || master.mtu,
      result: ipam,
    });
    return podInterfaceResult(args, link.address, ipam, args.netConf.dns);
  });
}

async function check(args: CmdArgs): Promise<void> {
  const conf = args.parse(VlanConf);
  await ipamCheck(args, conf.ipam.type);
  const link = await checkPodInterface(args, args.requirePrevResult('vlan'), 'vlan', 'vlan');
  const id = link.linkinfo?.info_data?.id;
  if (id !== undefined && id !== conf.vlanId)
    throw new Error(`vlan: ${args.ifName} has VLAN id ${String(id)}, config says ${conf.vlanId}`);
}

export const vlan: PluginFuncs = { add, check, ...createdLinkVerbs((args) => args.parse(VlanConf).ipam.type) };
