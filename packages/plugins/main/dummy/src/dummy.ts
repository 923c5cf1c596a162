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
import { createPodLink } from '@tscni/net/pod/master-link';

/** NetConf of dummy: only `ipam`, which is required. */
const DummyConf = lazySchema(() =>
  z.object({ ipam: z.object({ type: z.string().min(1) }).passthrough() }).passthrough(),
);

async function add(args: CmdArgs): Promise<Result> {
  const conf = args.parse(DummyConf);
  requirePodNetns(args);
  return withIpamOnCreatedLink(args, conf.ipam.type, async (ipam) => {
    const link = await createPodLink({ netns: args.netns, ifName: args.ifName, type: ['dummy'], result: ipam });
    return podInterfaceResult(args, link.address, ipam, args.netConf.dns);
  });
}

async function check(args: CmdArgs): Promise<void> {
  const conf = args.parse(DummyConf);
  await ipamCheck(args, conf.ipam.type);
  await checkPodInterface(args, args.requirePrevResult('dummy'), 'dummy', 'dummy');
}

export const dummy: PluginFuncs = { add, check, ...createdLinkVerbs((args) => args.parse(DummyConf).ipam.type) };
