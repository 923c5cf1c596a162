import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { emptyAsUnset } from '@tscni/cni/go-json';
import {
  ipamCheck,
  podInterfaceResult,
  requirePodNetns,
  createdLinkVerbs,
  withIpamOnCreatedLink,
  ipamTypeOf,
} from '@tscni/net/pod/link-attachment';
import { checkPodInterface } from '@tscni/net/pod/link-check';
import { ipamField, linkNameField, macField, mtuField, requestedMac } from '@tscni/net/pod/link-conf';
import { checkMtuWithinMaster, createPodLink, resolveMaster } from '@tscni/net/pod/master-link';

/** NetConf of macvlan: an empty `ipam` (`{}`) means an L2-only interface. */
const MacvlanConf = lazySchema(() =>
  z
    .object({
      master: linkNameField.optional(),
      mode: emptyAsUnset(z.enum(['bridge', 'private', 'vepa', 'passthru'])),
      mtu: mtuField.optional(),
      mac: macField.optional(),
      linkInContainer: z.boolean().optional(),
      bcqueuelen: z.number().int().min(0).max(0xffffffff).optional(),
      ipam: ipamField.optional(),
    })
    .passthrough(),
);
type MacvlanConf = z.infer<typeof MacvlanConf>;

async function add(args: CmdArgs): Promise<Result> {
  const conf = args.parse(MacvlanConf);
  const mac = requestedMac(args, conf.mac);
  requirePodNetns(args);
  const master = await resolveMaster(
    { master: conf.master, linkInContainer: conf.linkInContainer, netns: args.netns },
    { defaultToRoute: true },
  );
  checkMtuWithinMaster(conf.mtu, master);
  return withIpamOnCreatedLink(args, ipamTypeOf(conf), async (ipam) => {
    const link = await createPodLink({
      netns: args.netns,
      ifName: args.ifName,
      master: master.ifname,
      masterInPod: conf.linkInContainer,
      type: [
        'macvlan',
        'mode',
        conf.mode ?? 'bridge',
        ...(conf.bcqueuelen !== undefined ? ['bcqueuelen', conf.bcqueuelen] : []),
      ],
      mtu: conf.mtu || undefined,
      mac,
      result: ipam,
    });
    return podInterfaceResult(args, link.address, ipam, args.netConf.dns);
  });
}

async function check(args: CmdArgs): Promise<void> {
  const conf = args.parse(MacvlanConf);
  await ipamCheck(args, ipamTypeOf(conf));
  const link = await checkPodInterface(args, args.requirePrevResult('macvlan'), 'macvlan', 'macvlan');
  const mode = link.linkinfo?.info_data?.mode;
  if (mode !== (conf.mode ?? 'bridge'))
    throw new Error(`macvlan: ${args.ifName} is in mode ${String(mode)}, config says ${conf.mode ?? 'bridge'}`);
}

export const macvlan: PluginFuncs = { add, check, ...createdLinkVerbs((args) => ipamTypeOf(args.parse(MacvlanConf))) };
