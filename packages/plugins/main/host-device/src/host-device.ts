import { z } from 'zod';
import { interfaceNameProblem, type CmdArgs, type PluginFuncs, type Result } from '@tscni/cni';
import {
  checkPodInterface,
  forwardGcToIpam,
  forwardStatusToIpam,
  getLink,
  ipamCheck,
  ipamDel,
  ipamField,
  ipBatch,
  linkNameField,
  macField,
  netnsExists,
  podInterfaceResult,
  randomTempName,
  requirePodNetns,
  run,
  settlePodLink,
  withIpamAdd,
} from '@tscni/net';
import { findHostDevice } from './find-device';

/** NetConf of host-device: one of device | hwaddr | kernelpath | pciBusID, or runtimeConfig.deviceID. */
const HostDeviceConf = z
  .object({
    device: linkNameField.optional(),
    hwaddr: macField.optional(),
    kernelpath: z.string().optional(),
    pciBusID: z.string().optional(),
    runtimeConfig: z.object({ deviceID: z.string().optional() }).passthrough().optional(),
    ipam: ipamField.optional(),
  })
  .passthrough();
type HostDeviceConf = z.infer<typeof HostDeviceConf>;

const ipamType = (conf: HostDeviceConf): string | undefined => conf.ipam?.type || undefined;

/**
 * ADD: the device leaves the node netns under a temporary name with its original name saved in its
 * alias (one `ip link set … alias … netns … name …`), then is renamed to CNI_IFNAME and configured.
 */
async function add(args: CmdArgs): Promise<Result> {
  const conf = args.parse(HostDeviceConf);
  requirePodNetns(args);
  const device = await findHostDevice({ ...conf, deviceID: conf.runtimeConfig?.deviceID });
  return withIpamAdd(args, ipamType(conf), async (ipam) => {
    const tmpName = randomTempName('cni');
    await ipBatch([['link', 'set', 'dev', device, 'alias', device, 'netns', args.netns, 'name', tmpName]]);
    const link = await settlePodLink({ netns: args.netns, ifName: args.ifName, tmpName, result: ipam, undo: (name) => moveBack(args.netns, name, device) });
    return podInterfaceResult(args, link.address, ipam, args.netConf.dns);
  });
}

/**
 * DEL: release IPAM first — also when the netns is empty or gone (upstream skips it then and leaks the
 * address) — then move the device back under the name kept in its alias.
 */
async function del(args: CmdArgs): Promise<void> {
  const conf = args.parse(HostDeviceConf);
  await ipamDel(args, ipamType(conf));
  if (!args.netns || !netnsExists(args.netns)) return;
  const link = await getLink(args.ifName, args.netns);
  if (!link) return;
  const alias = link.ifalias && !interfaceNameProblem(link.ifalias) ? link.ifalias : args.ifName;
  await moveBack(args.netns, args.ifName, alias);
}

/** Back to the plugin's own netns (which sets it down), original name restored, alias cleared: one request. */
async function moveBack(netns: string, nameInPod: string, originalName: string): Promise<void> {
  const home = `/proc/${process.pid}/ns/net`;
  await run('ip', ['link', 'set', 'dev', nameInPod, 'netns', home, 'name', originalName, 'alias', ''], { netns });
}

async function check(args: CmdArgs): Promise<void> {
  const conf = args.parse(HostDeviceConf);
  await ipamCheck(args, ipamType(conf));
  await checkPodInterface(args, args.requirePrevResult('host-device'), 'host-device');
}

export const hostDevice: PluginFuncs = {
  add,
  del,
  check,
  gc: (args) => forwardGcToIpam(args, ipamType(args.parse(HostDeviceConf))),
  status: (args) => forwardStatusToIpam(args, ipamType(args.parse(HostDeviceConf))),
};
