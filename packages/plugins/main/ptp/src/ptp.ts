import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { invalidConfig } from '@tscni/cni/errors';
import { emptyAsUnset } from '@tscni/cni/go-json';
import { validateNetworkName } from '@tscni/cni/validate';
import { useIpInProcess } from '@tscni/net/host/ip-in-process';
import { getLink } from '@tscni/net/host/link';
import { failuresOf, sideBySide } from '@tscni/net/host/side-by-side';
import { writeSysctl } from '@tscni/net/host/sysctl';
import type { IpMasqBackend } from '@tscni/net/netfilter';
import { ipMasqFor } from '@tscni/net/netfilter/ipmasq';
import { ipMasqStateDir } from '@tscni/net/netfilter/ipmasq-state';
import {
  forwardGcToIpam,
  forwardStatusToIpam,
  ipamCheck,
  ipamDel,
  prevResultAddresses,
  requirePodNetns,
  withIpamAdd,
} from '@tscni/net/pod/link-attachment';
import { checkPodInterface } from '@tscni/net/pod/link-check';
import { ipamField, mtuField } from '@tscni/net/pod/link-conf';
import { deletePodLink } from '@tscni/net/pod/pod-link';
import { VethNameTaken, createVeth, removeHostVeth } from '@tscni/net/pod/veth';
import { containerCommands, hostCommands, type PodAddress } from './routes';

// `ip` over rtnetlink in this process (under Bun: the plugin's executable, the CRI harness).
useIpInProcess();

/** NetConf of ptp (cni.md §3.2): IPAM is required and must hand out gateways. */
const PtpConf = lazySchema(() =>
  z
    .object({
      name: z.string().optional(),
      ipMasq: z.boolean().default(false),
      ipMasqBackend: emptyAsUnset(z.enum(['iptables', 'nftables'])),
      mtu: mtuField.optional(),
      ipam: ipamField.optional(),
    })
    .passthrough(),
);
type PtpConf = z.infer<typeof PtpConf>;

/** Index of the container interface in the result: [host veth, container]. */
const CONTAINER_INDEX = 1;

/** The config, its IPAM type, and the ipMasq backend it selects (chosen once). */
function loadConf(args: CmdArgs): PtpConf & { ipamType: string; masq: IpMasqBackend } {
  const conf = args.parse(PtpConf);
  if (!conf.ipam?.type) throw invalidConfig('ipam.type', 'required: ptp needs an IPAM plugin');
  if (conf.ipMasq) validateNetworkName(args.netConf.name);
  return { ...conf, ipamType: conf.ipam.type, masq: ipMasqFor(conf.ipMasqBackend, ipMasqStateDir(args.env)) };
}

/**
 * ADD: IPAM → forwarding → veth pair made in the pod with its addresses and point-to-point routes
 * (one process) → host end: gateway /32 (/128) and a host route to each pod address (one process)
 * → ipMasq. A failure after IPAM releases the lease and removes the veth.
 */
async function add(args: CmdArgs): Promise<Result> {
  const conf = loadConf(args);
  requirePodNetns(args);
  return withIpamAdd(args, conf.ipamType, async (ipam) => {
    const result: Result = {
      cniVersion: args.netConf.cniVersion,
      ips: (ipam?.ips ?? []).map((ip) => ({ ...ip, interface: CONTAINER_INDEX })),
      routes: ipam?.routes ?? [],
    };
    if (!result.ips!.length) throw new Error('IPAM plugin returned missing IP config');
    const addrs = podAddresses(result);
    enableForwarding(addrs);
    let veth;
    try {
      veth = await createVeth({
        netns: args.netns,
        ifName: args.ifName,
        mtu: conf.mtu || undefined,
        containerCommands: containerCommands(args.ifName, result, addrs),
      });
    } catch (err) {
      throw new Error(
        err instanceof VethNameTaken
          ? err.message
          : `failed to set up ${args.ifName} in ${args.netns}: ${(err as Error).message}`,
      );
    }
    try {
      let host: Awaited<ReturnType<typeof hostCommands>> | undefined;
      // The host end and the masquerade share nothing: side by side, both settled before the undo below.
      await sideBySide([
        async () => (host = await hostCommands(veth.hostVeth, addrs)),
        async () =>
          conf.ipMasq &&
          (await conf.masq.setup(
            addrs.map((a) => a.address),
            masqOwner(args),
          )),
      ]);
      result.interfaces = [
        { name: veth.hostVeth, mac: host!.address },
        { name: args.ifName, mac: veth.container.address, sandbox: args.netns },
      ];
    } catch (err) {
      await removeHostVeth(veth.hostVeth);
      if (conf.ipMasq) await conf.masq.teardown(masqOwner(args)).catch(() => {});
      throw err;
    }
    const dns = [args.netConf.dns, ipam?.dns].find((d) => d && Object.keys(d).length);
    // The reference's key order: interfaces first.
    return {
      cniVersion: result.cniVersion,
      interfaces: result.interfaces,
      ips: result.ips,
      ...(result.routes?.length ? { routes: result.routes } : {}),
      ...(dns ? { dns } : {}),
    };
  });
}

/**
 * DEL: IPAM (it needs no netns), the pod link and the masquerade rules, side by side; each step tolerates "already
 * gone", and the first failure in that order is the answer. The masquerade's teardown touches the backend the ADD
 * recorded (both without a record), and reads only the iptables families of the cached prevResult's addresses.
 */
async function del(args: CmdArgs): Promise<void> {
  const conf = loadConf(args);
  const failures = await failuresOf([
    () => ipamDel(args, conf.ipamType),
    async () => args.netns && (await deletePodLink(args.netns, args.ifName)),
    async () => conf.ipMasq && (await conf.masq.teardown(masqOwner(args), prevResultAddresses(args))),
  ]);
  if (failures.length) throw failures[0];
}

async function check(args: CmdArgs): Promise<void> {
  const conf = loadConf(args);
  await ipamCheck(args, conf.ipamType);
  const prev = args.requirePrevResult('ptp');
  const container = await checkPodInterface(args, prev, 'ptp', 'veth');
  const hostEntry = (prev.interfaces ?? []).find((i) => !i.sandbox);
  if (!hostEntry) throw new Error('ptp: host veth not found in prevResult');
  const host = await getLink(hostEntry.name);
  if (!host) throw new Error(`ptp: host veth ${hostEntry.name} does not exist`);
  if (container.link_index !== undefined && container.link_index !== host.ifindex)
    throw new Error(`ptp: ${args.ifName} is not the peer of ${hostEntry.name}`);
  if (conf.ipMasq && !(await conf.masq.has(masqOwner(args))))
    throw new Error(`ptp: masquerade rules of ${args.containerID} are missing`);
}

async function gc(args: CmdArgs): Promise<void> {
  const conf = loadConf(args);
  const errors: unknown[] = [];
  if (args.netConf.name)
    await conf.masq.gc(args.netConf.name, args.validAttachments()).catch((e) => void errors.push(e));
  await forwardGcToIpam(args, conf.ipamType).catch((e) => void errors.push(e));
  if (errors.length) throw errors[0];
}

/** Every pod address needs a gateway: it becomes the host end's address and the pod's next hop. */
function podAddresses(result: Result): PodAddress[] {
  return result.ips!.map((ip) => {
    if (!ip.gateway) throw new Error(`ptp: IPAM returned ${ip.address} without a gateway`);
    return { address: ip.address, gateway: ip.gateway };
  });
}

function enableForwarding(addrs: PodAddress[]): void {
  if (addrs.some((a) => !a.address.includes(':'))) writeSysctl('net.ipv4.ip_forward', '1');
  if (addrs.some((a) => a.address.includes(':'))) writeSysctl('net.ipv6.conf.all.forwarding', '1');
}

const masqOwner = (args: CmdArgs) => ({
  network: args.netConf.name ?? '',
  containerID: args.containerID,
  ifName: args.ifName,
});

export const ptp: PluginFuncs = {
  add,
  del,
  check,
  gc,
  status: (args) => forwardStatusToIpam(args, loadConf(args).ipamType),
};
