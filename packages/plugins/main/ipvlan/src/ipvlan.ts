import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { invalidConfig } from '@tscni/cni/errors';
import { emptyAsUnset } from '@tscni/cni/go-json';
import { interfaceNameProblem } from '@tscni/cni/validate';
import {
  ipamCheck,
  podInterfaceResult,
  requirePodNetns,
  createdLinkVerbs,
  withIpamOnCreatedLink,
  ipamTypeOf,
} from '@tscni/net/pod/link-attachment';
import { checkPodInterface } from '@tscni/net/pod/link-check';
import { ipamField, linkNameField, mtuField } from '@tscni/net/pod/link-conf';
import { createPodLink, resolveMaster } from '@tscni/net/pod/master-link';

/** NetConf of ipvlan; when chained, `master` and `ipam` may come from prevResult. */
const IpvlanConf = lazySchema(() =>
  z
    .object({
      master: linkNameField.optional(),
      mode: emptyAsUnset(z.enum(['l2', 'l3', 'l3s'])),
      mtu: mtuField.optional(),
      linkInContainer: z.boolean().optional(),
      ipam: ipamField.optional(),
    })
    .passthrough(),
);
type IpvlanConf = z.infer<typeof IpvlanConf>;

async function add(args: CmdArgs): Promise<Result> {
  const conf = args.parse(IpvlanConf);
  const prev = args.prevResult();
  const masterName = conf.master ?? chainedMaster(prev);
  const reused = ipamTypeOf(conf) ? undefined : chainedAddresses(prev);
  requirePodNetns(args);
  const master = await resolveMaster({ master: masterName, linkInContainer: conf.linkInContainer, netns: args.netns });
  return withIpamOnCreatedLink(args, ipamTypeOf(conf), async (ipam) => {
    const addresses = ipam ?? reused;
    const link = await createPodLink({
      netns: args.netns,
      ifName: args.ifName,
      master: master.ifname,
      masterInPod: conf.linkInContainer,
      type: ['ipvlan', 'mode', conf.mode ?? 'l2'],
      mtu: conf.mtu || undefined,
      result: addresses,
    });
    return podInterfaceResult(args, link.address, addresses, args.netConf.dns);
  });
}

/** Chained without `master`: the single named interface of prevResult. */
function chainedMaster(prev: Result | undefined): string {
  if (!prev) throw invalidConfig('master', 'required (or chain ipvlan after a plugin that reports one interface)');
  const named = (prev.interfaces ?? []).filter((i) => i.name);
  if (named.length !== 1)
    throw invalidConfig('master', 'not set and prevResult does not have exactly one named interface to take it from');
  if (interfaceNameProblem(named[0].name))
    throw invalidConfig('master', `prevResult interface ${JSON.stringify(named[0].name)} is not a valid link name`);
  return named[0].name;
}

/** Chained without `ipam`: the addresses (and routes, DNS) of prevResult are moved onto the ipvlan link. */
function chainedAddresses(prev: Result | undefined): Result {
  if (!prev || !(prev.ips ?? []).length) throw invalidConfig('ipam', 'required (prevResult has no IPs to reuse)');
  return {
    cniVersion: prev.cniVersion,
    ips: prev.ips!.map(({ interface: _i, ...ip }) => ip),
    routes: prev.routes,
    dns: prev.dns,
  };
}

async function check(args: CmdArgs): Promise<void> {
  const conf = args.parse(IpvlanConf);
  await ipamCheck(args, ipamTypeOf(conf));
  const link = await checkPodInterface(args, args.requirePrevResult('ipvlan'), 'ipvlan', 'ipvlan');
  const mode = link.linkinfo?.info_data?.mode;
  if (mode !== undefined && mode !== (conf.mode ?? 'l2'))
    throw new Error(`ipvlan: ${args.ifName} is in mode ${String(mode)}, config says ${conf.mode ?? 'l2'}`);
}

export const ipvlan: PluginFuncs = { add, check, ...createdLinkVerbs((args) => ipamTypeOf(args.parse(IpvlanConf))) };
