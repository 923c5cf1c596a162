import { z } from 'zod';
import { type CmdArgs, type PluginFuncs, type Result } from '@tscni/cni';
import {
  checkPodInterface,
  createPodLink,
  ipamCheck,
  podInterfaceResult,
  requirePodNetns,
  createdLinkVerbs,
  withIpamOnCreatedLink,
} from '@tscni/net/pod';

/** NetConf of dummy: only `ipam`, which is required. */
const DummyConf = z.object({ ipam: z.object({ type: z.string().min(1) }).passthrough() }).passthrough();

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
