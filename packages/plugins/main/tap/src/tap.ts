import { existsSync } from 'node:fs';
import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import type { Link } from '@tscni/net/host';
import { CommandError, failureReason } from '@tscni/net/host/command-error';
import { ipBatch } from '@tscni/net/host/ip';
import { randomTempName } from '@tscni/net/host/names';
import { run } from '@tscni/net/host/runner';
import {
  createdLinkVerbs,
  ipamCheck,
  podInterfaceResult,
  requirePodNetns,
  withIpamOnCreatedLink,
  ipamTypeOf,
} from '@tscni/net/pod/link-attachment';
import { checkPodInterface } from '@tscni/net/pod/link-check';
import { ipamField, linkNameField, macField, mtuField, requestedMac } from '@tscni/net/pod/link-conf';
import { settlePodLink } from '@tscni/net/pod/pod-link';

const uint32 = lazySchema(() => z.number().int().min(0).max(0xffffffff));
/** user:role:type[:level], the level possibly with categories (s0-s0:c0.c1023). */
const SELINUX_CONTEXT = /^[\w.]+:[\w.]+:[\w.]+(:[\w.,:-]+)?$/;

/** NetConf of tap: without `ipam` (or with `{}`) the tap is L2 only. */
const TapConf = lazySchema(() =>
  z
    .object({
      mac: macField.optional(),
      mtu: mtuField.optional(),
      multiQueue: z.boolean().optional(),
      owner: uint32.optional(),
      group: uint32.optional(),
      selinuxContext: z
        .union([
          z.literal(''),
          z.string().regex(SELINUX_CONTEXT, 'invalid SELinux context (want user:role:type[:level])'),
        ])
        .optional(),
      bridge: z.union([z.literal(''), linkNameField]).optional(),
      ipam: ipamField.optional(),
    })
    .passthrough(),
);
type TapConf = z.infer<typeof TapConf>;

async function add(args: CmdArgs): Promise<Result> {
  const conf = args.parse(TapConf);
  const mac = requestedMac(args, conf.mac);
  requirePodNetns(args);
  return withIpamOnCreatedLink(args, ipamTypeOf(conf), async (ipam) => {
    const link = await createTap(args, conf, mac, ipam);
    return podInterfaceResult(args, link.address, ipam, args.netConf.dns);
  });
}

async function check(args: CmdArgs): Promise<void> {
  const conf = args.parse(TapConf);
  await ipamCheck(args, ipamTypeOf(conf));
  const link = await checkPodInterface(args, args.requirePrevResult('tap'), 'tap', 'tun');
  const data = link.linkinfo?.info_data as { type?: string } | undefined;
  if (data?.type && data.type !== 'tap') throw new Error(`tap: ${args.ifName} is a ${data.type} device, not a tap`);
  if (conf.bridge && link.master !== conf.bridge)
    throw new Error(`tap: ${args.ifName} is not a port of bridge ${conf.bridge}`);
}

export const tap: PluginFuncs = { add, check, ...createdLinkVerbs((args) => ipamTypeOf(args.parse(TapConf))) };

/**
 * The tap is made inside the pod netns under a temporary name (as the reference: a kernel bug can make a
 * new name collide with one on the host), given its MTU, MAC and bridge, then renamed, addressed and set up.
 * A persistent tap with VNET_HDR, like the reference's; `owner`/`group` may open it without CAP_NET_ADMIN.
 */
async function createTap(
  args: CmdArgs,
  conf: TapConf,
  mac: string | undefined,
  ipam: Result | undefined,
): Promise<Link> {
  const tmpName = randomTempName('tap');
  const tuntap: (string | number)[] = ['tuntap', 'add', 'mode', 'tap', 'name', tmpName, 'vnet_hdr'];
  if (conf.multiQueue) tuntap.push('multi_queue');
  if (conf.owner !== undefined) tuntap.push('user', conf.owner);
  if (conf.group !== undefined) tuntap.push('group', conf.group);
  const then: (string | number)[][] = [];
  if (conf.mtu || mac)
    then.push([
      'link',
      'set',
      'dev',
      tmpName,
      ...(conf.mtu ? ['mtu', conf.mtu] : []),
      ...(mac ? ['address', mac] : []),
    ]);
  if (conf.bridge) then.push(['link', 'set', 'dev', tmpName, 'master', conf.bridge]);
  const undo = (name: string) => ipBatch([['link', 'del', 'dev', name]], args.netns).then(() => {});
  try {
    if (conf.selinuxContext && selinuxEnabled()) {
      // The device is labelled with its creator's context: create it from a process running in that context.
      await run('runcon', [conf.selinuxContext, 'ip', ...tuntap.map(String)], { netns: args.netns });
      if (then.length) await ipBatch(then, args.netns);
    } else {
      await ipBatch([tuntap, ...then], args.netns);
    }
  } catch (err) {
    await undo(tmpName).catch(() => {});
    throw tapError(conf, err);
  }
  return settlePodLink({ netns: args.netns, ifName: args.ifName, tmpName, result: ipam, undo });
}

/** Without SELinux there is no label to give (`selinuxContext` is accepted and has no effect). */
const selinuxEnabled = (): boolean => existsSync('/sys/fs/selinux/enforce');

function tapError(conf: TapConf, err: unknown): Error {
  if (!(err instanceof CommandError)) return err as Error;
  const why = failureReason(err);
  if (conf.bridge && why.includes(`"${conf.bridge}"`))
    return new Error(`failed to get bridge ${conf.bridge}: no such link in the container netns`);
  if (/tun|No such device|Operation not supported/i.test(why) && /open|ioctl|TUNSETIFF/i.test(why)) {
    return new Error(`failed to create tap: the kernel has no tun/tap support (CONFIG_TUN): ${why}`);
  }
  return new Error(`failed to create tap: ${why}`);
}
