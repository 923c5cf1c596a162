import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { interfaceNameProblem } from '@tscni/cni/validate';
import {
  forwardGcToIpam,
  forwardStatusToIpam,
  ipamCheck,
  ipamDel,
  podInterfaceResult,
  requirePodNetns,
  withIpamAdd,
  withIpamOnCreatedLink,
  ipamTypeOf,
} from '@tscni/net/pod/link-attachment';
import { checkPodInterface } from '@tscni/net/pod/link-check';
import { ipamField, linkNameField, macField } from '@tscni/net/pod/link-conf';
import { settlePodLink } from '@tscni/net/pod/pod-link';
import { ipBatch } from '@tscni/net/host/ip';
import { homeNetnsPath } from '@tscni/net/host/home-netns';
import { getLink } from '@tscni/net/host/link';
import { randomTempName } from '@tscni/net/host/names';
import { netnsExists } from '@tscni/net/host/netns';
import { run } from '@tscni/net/host/runner';
import { userspaceDriver } from './dpdk';
import { findHostDevice } from './find-device';

/** NetConf of host-device: one of device | hwaddr | kernelpath | pciBusID, or runtimeConfig.deviceID. */
const HostDeviceConf = lazySchema(() =>
  z
    .object({
      device: linkNameField.optional(),
      hwaddr: macField.optional(),
      kernelpath: z.string().optional(),
      pciBusID: z.string().optional(),
      runtimeConfig: z.object({ deviceID: z.string().optional() }).passthrough().optional(),
      ipam: ipamField.optional(),
    })
    .passthrough(),
);
type HostDeviceConf = z.infer<typeof HostDeviceConf>;

/** The PCI address the reference checks for a userspace (DPDK) driver: runtimeConfig.deviceID wins over pciBusID. */
const pciAddressOf = (conf: HostDeviceConf): string | undefined => conf.runtimeConfig?.deviceID || conf.pciBusID;

/**
 * host-device reading sysfs under `sysfs` (the real mount point in production; tests point it at a fixture tree).
 *
 * ADD: the device leaves the node netns under a temporary name with its original name saved in its alias
 * (one `ip link set … alias … netns … name …`), then is renamed to CNI_IFNAME and configured. With an IPAM
 * that talks through the link (dhcp) the device is moved first and IPAM runs after (the reference's order);
 * a failed IPAM gives the device back. A PCI device bound to a userspace driver (vfio-pci, …) has no netdev:
 * it stays where it is and only IPAM runs, like the reference's DPDK mode.
 */
export function hostDeviceWith(sysfs: string): PluginFuncs {
  async function add(args: CmdArgs): Promise<Result> {
    const conf = args.parse(HostDeviceConf);
    requirePodNetns(args);
    if (userspaceDriver(pciAddressOf(conf), sysfs)) return addUserspaceDevice(args, conf);
    const device = await findHostDevice({ ...conf, deviceID: conf.runtimeConfig?.deviceID }, sysfs);
    const moveIn = async (ipam: Result | undefined): Promise<Result> => {
      const tmpName = randomTempName('cni');
      await ipBatch([['link', 'set', 'dev', device, 'alias', device, 'netns', args.netns, 'name', tmpName]]);
      const link = await settlePodLink({
        netns: args.netns,
        ifName: args.ifName,
        tmpName,
        result: ipam,
        undo: (name) => moveBack(args.netns, name, device),
      });
      return podInterfaceResult(args, link.address, ipam, args.netConf.dns);
    };
    return withIpamOnCreatedLink(args, ipamTypeOf(conf), moveIn, () => moveBack(args.netns, args.ifName, device));
  }

  /**
   * DEL: release IPAM first — also when the netns is empty or gone (upstream skips it then and leaks the
   * address) — then move the device back under the name kept in its alias (a userspace device never moved).
   */
  async function del(args: CmdArgs): Promise<void> {
    const conf = args.parse(HostDeviceConf);
    await ipamDel(args, ipamTypeOf(conf));
    if (userspaceDriver(pciAddressOf(conf), sysfs)) return;
    if (!args.netns || !netnsExists(args.netns)) return;
    const link = await getLink(args.ifName, args.netns);
    if (!link) return;
    const alias = link.ifalias && !interfaceNameProblem(link.ifalias) ? link.ifalias : args.ifName;
    await moveBack(args.netns, args.ifName, alias);
  }

  async function check(args: CmdArgs): Promise<void> {
    const conf = args.parse(HostDeviceConf);
    await ipamCheck(args, ipamTypeOf(conf));
    const prev = args.requirePrevResult('host-device');
    if (userspaceDriver(pciAddressOf(conf), sysfs)) return;
    await checkPodInterface(args, prev, 'host-device');
  }

  return {
    add,
    del,
    check,
    gc: (args) => forwardGcToIpam(args, ipamTypeOf(args.parse(HostDeviceConf))),
    status: (args) => forwardStatusToIpam(args, ipamTypeOf(args.parse(HostDeviceConf))),
  };
}

export const hostDevice: PluginFuncs = hostDeviceWith('/sys');

/**
 * ADD for a device a userspace data plane owns: nothing to move, so the result has no interface; IPAM's
 * addresses (if any) are handed to that data plane through the result.
 */
async function addUserspaceDevice(args: CmdArgs, conf: HostDeviceConf): Promise<Result> {
  const type = ipamTypeOf(conf);
  if (!type) return { cniVersion: args.netConf.cniVersion };
  return withIpamAdd(args, type, async (ipam) => {
    if (!ipam?.ips?.length) throw new Error('IPAM plugin returned missing IP config');
    const dns = [args.netConf.dns, ipam.dns].find((d) => d && Object.keys(d).length);
    return {
      cniVersion: args.netConf.cniVersion,
      ips: ipam.ips.map(({ interface: _, ...ip }) => ip),
      routes: ipam.routes ?? [],
      ...(dns ? { dns } : {}),
    };
  });
}

/** Back to the plugin's own netns (which sets it down), original name restored, alias cleared: one request. */
async function moveBack(netns: string, nameInPod: string, originalName: string): Promise<void> {
  await run('ip', ['link', 'set', 'dev', nameInPod, 'netns', homeNetnsPath(), 'name', originalName, 'alias', ''], {
    netns,
  });
}
