import type { CmdArgs, DNS, PluginFuncs, Result } from '@tscni/cni';
import { CniError, ErrorCode } from '@tscni/cni/errors';
import { delegateAdd, delegateCheck, delegateDel, delegateGC, delegateStatus } from '@tscni/cni/invoke';
import { ifaceConfigCommands, ipv6Sysctls } from './configure-iface';
import { ipBatch } from '../host/ip';
import { netnsExists } from '../host/netns';
import { deletePodLink } from './pod-link';
import { writeSysctlsIn } from '../host/sysctl';
import { failuresOf } from '../host/side-by-side';

/** The delegated IPAM plugin's type, or undefined when the config has none (an empty type counts as none). */
export const ipamTypeOf = (conf: { ipam?: { type?: string } }): string | undefined => conf.ipam?.type || undefined;

/**
 * The IPAM side of the one-interface plugins: run IPAM ADD when `ipamType` is set, then `attach`;
 * when `attach` fails the reservation is released again (the failed ADD leaves nothing behind).
 * `beside`: a step that needs no IPAM result (the bridge's lookup) runs at the same time; its failure is the one
 * reported (it came first when the two ran one after another), and a lease taken beside it is released.
 */
export async function withIpamAdd<T>(
  args: CmdArgs,
  ipamType: string | undefined,
  attach: (ipam: Result | undefined) => Promise<T>,
  beside?: () => Promise<unknown>,
): Promise<T> {
  let ipam: Result | undefined;
  let leased = false;
  const allocate = async () => {
    if (!ipamType) return;
    ipam = await delegateAdd(ipamType, args.stdinData, args.env);
    leased = true;
  };
  if (beside) {
    const failures = await failuresOf([beside, allocate]);
    if (failures.length) {
      if (leased) await delegateDel(ipamType!, args.stdinData, args.env).catch(() => {});
      throw failures[0];
    }
  } else await allocate();
  try {
    return await attach(ipam);
  } catch (err) {
    if (ipamType) await delegateDel(ipamType, args.stdinData, args.env).catch(() => {});
    throw err;
  }
}

/**
 * The addresses of a DEL's cached prevResult (what the ADD configured and masqueraded), or undefined when there is
 * no usable prevResult: then a teardown must search for everything.
 */
export function prevResultAddresses(args: CmdArgs): string[] | undefined {
  try {
    return args.prevResult()?.ips?.map((ip) => ip.address);
  } catch {
    return undefined;
  }
}

export async function ipamDel(args: CmdArgs, ipamType: string | undefined): Promise<void> {
  if (ipamType) await delegateDel(ipamType, args.stdinData, args.env);
}

export async function ipamCheck(args: CmdArgs, ipamType: string | undefined): Promise<void> {
  if (ipamType) await delegateCheck(ipamType, args.stdinData, args.env);
}

/** GC and STATUS only concern IPAM for these plugins: forward them when an IPAM type is configured. */
export const forwardGcToIpam = async (args: CmdArgs, ipamType: string | undefined): Promise<void> => {
  if (ipamType) await delegateGC(ipamType, args.stdinData, args.env);
};
export const forwardStatusToIpam = async (args: CmdArgs, ipamType: string | undefined): Promise<void> => {
  if (ipamType) await delegateStatus(ipamType, args.stdinData, args.env);
};

/** ADD needs the pod netns to exist (code 4 names CNI_NETNS otherwise). */
export function requirePodNetns(args: CmdArgs): void {
  if (!netnsExists(args.netns))
    throw new CniError(
      ErrorCode.InvalidEnvironmentVariables,
      `failed to open netns ${JSON.stringify(args.netns)}: no such namespace`,
    );
}

/**
 * The result of a plugin that made one pod interface: that interface (index 0) with its MAC, and
 * the addresses (all pointing at it), routes and DNS of `ipam`; a configured `dns` wins over IPAM's.
 */
export function podInterfaceResult(
  args: CmdArgs,
  mac: string | undefined,
  ipam: Result | undefined,
  dns?: DNS,
): Result {
  const result: Result = {
    cniVersion: args.netConf.cniVersion,
    interfaces: [{ name: args.ifName, ...(mac ? { mac } : {}), sandbox: args.netns }],
    ips: (ipam?.ips ?? []).map((ip) => ({ ...ip, interface: 0 })),
    routes: ipam?.routes ?? [],
  };
  const chosenDns = dns && Object.keys(dns).length ? dns : ipam?.dns;
  if (chosenDns && Object.keys(chosenDns).length) result.dns = chosenDns;
  return result;
}

/**
 * IPAM plugins that talk through the pod's interface (dhcp) need it to exist, and be up, before their ADD:
 * for those the link is made first (no addresses), then IPAM runs, then its addresses and routes go on in
 * one more batch — the reference's order. Other IPAM types keep the faster IPAM-first path.
 */
const IPAM_NEEDING_THE_LINK = new Set(['dhcp']);
export const ipamNeedsLink = (ipamType: string | undefined): boolean =>
  !!ipamType && IPAM_NEEDING_THE_LINK.has(ipamType);

/**
 * `withIpamAdd` for plugins that create their pod link (macvlan, ipvlan, vlan, dummy): `attach` builds the
 * link and the plugin's result from an IPAM result; with an IPAM that needs the link it is called without
 * one, and the IPAM result is applied afterwards and merged into the plugin's result.
 */
export async function withIpamOnCreatedLink(
  args: CmdArgs,
  ipamType: string | undefined,
  attach: (ipam: Result | undefined) => Promise<Result>,
  /** Takes the bare link away again when IPAM fails (default: delete it; host-device moves it back). */
  undoLink: () => Promise<void> = () => deletePodLink(args.netns, args.ifName),
): Promise<Result> {
  if (!ipamNeedsLink(ipamType)) return withIpamAdd(args, ipamType, attach);
  const bare = await attach(undefined);
  try {
    const ipam = await delegateAdd(ipamType!, args.stdinData, args.env);
    try {
      await writeSysctlsIn(args.netns, ipv6Sysctls(args.ifName, ipam));
      await ipBatch(
        ifaceConfigCommands(args.ifName, ipam, { ifIndex: 0 }).filter((c) => c[0] !== 'link'),
        args.netns,
      );
    } catch (err) {
      await delegateDel(ipamType!, args.stdinData, args.env).catch(() => {});
      throw err;
    }
    return podInterfaceResult(args, bare.interfaces?.[0]?.mac, ipam, args.netConf.dns);
  } catch (err) {
    await undoLink().catch(() => {});
    throw err;
  }
}

/**
 * DEL, GC and STATUS of a plugin that created its pod link (macvlan, ipvlan, vlan, dummy): DEL releases
 * IPAM (even without a netns) and then deletes the link if it is still there; GC and STATUS only concern IPAM.
 */
export function createdLinkVerbs(
  ipamTypeOf: (args: CmdArgs) => string | undefined,
): Pick<PluginFuncs, 'del' | 'gc' | 'status'> {
  return {
    del: async (args) => {
      await ipamDel(args, ipamTypeOf(args));
      if (args.netns) await deletePodLink(args.netns, args.ifName);
    },
    gc: (args) => forwardGcToIpam(args, ipamTypeOf(args)),
    status: (args) => forwardStatusToIpam(args, ipamTypeOf(args)),
  };
}
