import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { exists, readText } from '@tscni/cni/files';
import { delegateAdd, delegateDel } from '@tscni/cni/invoke';
import type { Link } from '@tscni/net/host';
import { ipBatch } from '@tscni/net/host/ip';
import { getLink } from '@tscni/net/host/link';
import { failuresOf } from '@tscni/net/host/side-by-side';
import { writeSysctlsIn } from '@tscni/net/host/sysctl';
import { useIpInProcess } from '@tscni/net/host/ip-in-process';
import { ifaceConfigCommands, ipv6Sysctls } from '@tscni/net/pod/configure-iface';
import {
  forwardGcToIpam,
  forwardStatusToIpam,
  ipamCheck,
  ipamDel,
  ipamNeedsLink,
  prevResultAddresses,
  requirePodNetns,
  withIpamAdd,
} from '@tscni/net/pod/link-attachment';
import { deletePodLink } from '@tscni/net/pod/pod-link';
import { rankedSideBySide } from '@tscni/net/pod/ranked-steps';
import { VethNameTaken, createVeth, removeHostVeth, type VethPair } from '@tscni/net/pod/veth';
import { attachHostVeth, enableForwarding, ensureBridge, ensureGatewayAddrs, setPortVlans, why } from './bridge-link';
import { checkBridge } from './check';
import { loadBridgeConf, type BridgeConf } from './config';
import { CONTAINER_INDEX, applyGateways } from './gateways';
import { hasSpoofCheck, setupSpoofCheck, teardownSpoofCheck } from './spoofcheck';
import { ensureVlanGateway } from './vlan-gateway';

// `ip` over rtnetlink in this process (under Bun: the plugin's executable, the CRI harness).
useIpInProcess();

/**
 * ADD: IPAM → veth pair created in the pod together with the whole container config (one process), and beside both
 * the bridge's lookup (or creation) → the host end enslaved (hairpin, isolation, VLANs), beside it the pod's sysctls
 * and ipMasq → spoof check → gateway on the bridge → forwarding → port up. Anything failing after IPAM releases the
 * lease and removes the veth. An IPAM that talks through the pod's link (dhcp) runs once the port is up, the reference's order.
 */
async function add(args: CmdArgs): Promise<Result> {
  const conf = loadBridgeConf(args);
  requirePodNetns(args);
  if (!ipamNeedsLink(conf.ipamType)) {
    // The bridge's lookup (or creation) needs neither the lease nor the pod's veth: it runs beside both, and the
    // host's side waits for it. The MAC it reads is still the one from before this pod's port joins (the port joins
    // in the host batch, after it). Its failure ranks first, as when it ran before everything else.
    const bridge = ensureBridge(conf);
    bridge.catch(() => {});
    try {
      return await withIpamAdd(args, conf.ipamType, (ipam) => attachPod(args, conf, bridge, async () => ipam, false));
    } catch (err) {
      await bridge;
      throw err;
    }
  }
  const br = await ensureBridge(conf);
  let leased = false;
  const lease = async () => {
    const ipam = await delegateAdd(conf.ipamType!, args.stdinData, args.env);
    leased = true;
    return ipam;
  };
  try {
    return await attachPod(args, conf, Promise.resolve(br), lease, true);
  } catch (err) {
    if (leased) await delegateDel(conf.ipamType!, args.stdinData, args.env).catch(() => {});
    throw err;
  }
}

/** The pod's veth on the bridge; `getIpam` is called before the veth exists, or (`linkFirst`) once its port is up. */
async function attachPod(
  args: CmdArgs,
  conf: BridgeConf,
  bridge: Promise<Link>,
  getIpam: () => Promise<Result | undefined>,
  linkFirst: boolean,
): Promise<Result> {
  let ipam = linkFirst ? undefined : await getIpam();
  const result: Result = { cniVersion: args.netConf.cniVersion, ips: ipam?.ips ?? [], routes: ipam?.routes ?? [] };
  const requireIps = () => {
    if (conf.ipamType && !result.ips?.length) throw new Error('IPAM plugin returned missing IP config');
  };
  if (!linkFirst) requireIps();
  let gateways = linkFirst ? [] : applyGateways(result, conf);
  const [veth, br] = await vethBesideBridge(bridge, () => createPodVeth(args, conf, result));
  const made: { host?: Awaited<ReturnType<typeof attachHostVeth>>; bridgeMac?: string; vlanGateway?: Link } = {};
  // What follows the veth, by the order the steps once ran in one after another (the order their failures rank in).
  const port = async () => {
    made.host = await attachHostVeth(conf, veth.hostVeth);
    // A bridge that lost its last port reads 00:00:00:00:00:00; it has taken this port's MAC now.
    made.bridgeMac = br.address && !/^(00:){5}00$/.test(br.address) ? br.address : made.host.bridgeLink.address;
    await setPortVlans(conf, veth.hostVeth);
    if (conf.macspoofchk) await setupSpoofCheck(spoofID(args), veth.hostVeth, veth.container.address!);
  };
  const podSide = async () => {
    await podSysctls(args, conf, result);
    if (linkFirst && !conf.disableContainerInterface) {
      const podConfig = ifaceConfigCommands(args.ifName, result, {
        nodad: !conf.enabledad,
        ifIndex: CONTAINER_INDEX,
      }).filter((c) => c[0] !== 'link');
      await ipBatch(podConfig, args.netns);
    }
  };
  const gatewaySide = async () => {
    if (!gateways.length) return;
    if (conf.vlan) {
      made.vlanGateway = await ensureVlanGateway(conf);
      await ensureGatewayAddrs(conf, made.vlanGateway.ifname, gateways);
    } else await ensureGatewayAddrs(conf, conf.bridge, gateways, made.bridgeMac, made.host!.bridgeAddrs);
    enableForwarding(gateways);
  };
  const masq = async () => {
    if (conf.ipMasq)
      await conf.masq.setup(
        result.ips!.map((ip) => ip.address),
        masqOwner(args),
      );
  };
  try {
    if (!linkFirst) {
      // The pod's sysctls and the masquerade need only the veth and the addresses: they run beside the host's
      // steps. All settle before the undo below.
      await rankedSideBySide([
        [
          [0, port],
          [2, gatewaySide],
          [4, async () => conf.ipamType && waitPortUp(made.host!.hostLink)],
        ],
        [[1, podSide]],
        [[3, masq]],
      ]);
    } else {
      await port();
      await waitPortUp(made.host!.hostLink);
      ipam = await getIpam();
      Object.assign(result, { ips: ipam?.ips ?? [], routes: ipam?.routes ?? [] });
      requireIps();
      gateways = applyGateways(result, conf);
      // The pod's sysctls and addresses, and the host's gateway and masquerade, share nothing: side by side.
      await rankedSideBySide([
        [[0, podSide]],
        [
          [1, gatewaySide],
          [2, masq],
        ],
      ]);
    }
    const { hostLink, bridgeLink } = made.host!;
    result.interfaces = [
      { name: conf.bridge, mac: gateways.length && !conf.vlan ? made.bridgeMac : bridgeLink.address },
      { name: veth.hostVeth, mac: hostLink.address },
      { name: args.ifName, mac: veth.container.address, sandbox: args.netns },
      ...(made.vlanGateway ? [{ name: made.vlanGateway.ifname, mac: made.vlanGateway.address }] : []),
    ];
  } catch (err) {
    await removeHostVeth(veth.hostVeth);
    if (conf.macspoofchk) await teardownSpoofCheck(spoofID(args)).catch(() => {});
    if (conf.ipMasq) await conf.masq.teardown(masqOwner(args)).catch(() => {});
    throw err;
  }
  const dns = [args.netConf.dns, ipam?.dns].find((d) => d && Object.keys(d).length);
  // The reference's key order: interfaces first.
  return {
    cniVersion: result.cniVersion,
    interfaces: result.interfaces,
    ips: result.ips,
    ...(result.routes ? { routes: result.routes } : {}),
    ...(dns ? { dns } : {}),
  };
}

/**
 * DEL: the container link (a missing netns or link is fine), IPAM, and on the host the spoof check and the
 * masquerade rules of the backend the ADD recorded (both without a record), all side by side. Every step runs; the
 * first failure in that order is the answer. The masquerade's iptables teardown reads only the families of the cached
 * prevResult's addresses (every family without one). The bridge stays.
 */
async function del(args: CmdArgs): Promise<void> {
  const conf = loadBridgeConf(args, { forDel: true });
  const failures = await failuresOf([
    async () => args.netns && (await deletePodLink(args.netns, args.ifName)),
    () => ipamDel(args, conf.ipamType),
    async () => conf.macspoofchk && (await teardownSpoofCheck(spoofID(args))),
    async () => conf.ipMasq && (await conf.masq.teardown(masqOwner(args), prevResultAddresses(args))),
  ]);
  if (failures.length) throw failures[0];
}

async function check(args: CmdArgs): Promise<void> {
  const conf = loadBridgeConf(args, { forDel: true });
  await ipamCheck(args, conf.ipamType);
  await checkBridge(args, conf, args.requirePrevResult('bridge'));
  if (conf.ipMasq && !(await conf.masq.has(masqOwner(args))))
    throw new Error(`bridge: masquerade rules of ${args.containerID} are missing`);
  if (conf.macspoofchk && !(await hasSpoofCheck(spoofID(args))))
    throw new Error(`bridge: spoof-check rules of ${args.containerID} are missing`);
}

/** GC: masquerade rules (both backends) and records of attachments that are no longer valid, then IPAM. */
async function gc(args: CmdArgs): Promise<void> {
  const conf = loadBridgeConf(args, { forDel: true });
  const errors: unknown[] = [];
  if (args.netConf.name)
    await conf.masq.gc(args.netConf.name, args.validAttachments()).catch((e) => void errors.push(e));
  await forwardGcToIpam(args, conf.ipamType).catch((e) => void errors.push(e));
  if (errors.length) throw errors[0];
}

/** The pod's veth made beside the bridge's lookup: the lookup's failure ranks first; a veth made beside a failure goes. */
async function vethBesideBridge(bridge: Promise<Link>, makeVeth: () => Promise<VethPair>): Promise<[VethPair, Link]> {
  const made: { veth?: VethPair; br?: Link } = {};
  try {
    await rankedSideBySide([
      [[0, async () => (made.br = await bridge)]],
      [[1, async () => (made.veth = await makeVeth())]],
    ]);
  } catch (err) {
    if (made.veth) await removeHostVeth(made.veth.hostVeth);
    throw err;
  }
  // Both steps succeeded (rankedSideBySide throws otherwise).
  return [made.veth!, made.br!];
}

async function createPodVeth(args: CmdArgs, conf: BridgeConf, result: Result) {
  const containerCommands = conf.disableContainerInterface
    ? []
    : ifaceConfigCommands(args.ifName, result, { nodad: !conf.enabledad, ifIndex: CONTAINER_INDEX });
  try {
    return await createVeth({
      netns: args.netns,
      ifName: args.ifName,
      mtu: conf.mtu || undefined,
      mac: conf.mac,
      containerCommands,
    });
  } catch (err) {
    if (err instanceof VethNameTaken) throw new Error(err.message);
    throw new Error(`failed to set up ${args.ifName} in ${args.netns}: ${why(err)}`);
  }
}

/** In the pod: gratuitous ARP on changes, the DAD policy, and IPv6 enabled when there are v6 addresses. */
async function podSysctls(args: CmdArgs, conf: BridgeConf, result: Result): Promise<void> {
  const dev = args.ifName.replace(/\./g, '/');
  const values: Record<string, string> = { [`net.ipv4.conf.${dev}.arp_notify`]: '1' };
  if (exists('/proc/sys/net/ipv6/conf')) {
    Object.assign(values, ipv6Sysctls(args.ifName, result));
    if (conf.enabledad)
      Object.assign(values, { [`net.ipv6.conf.${dev}.enhanced_dad`]: '1', [`net.ipv6.conf.${dev}.accept_dad`]: '1' });
    else values[`net.ipv6.conf.${dev}.accept_dad`] = '0';
  }
  await writeSysctlsIn(args.netns, values);
}

/** The reference's wait for the bridge port: up to ~2.5 s for the host veth to be operationally up. */
async function waitPortUp(hostLink: Link): Promise<void> {
  let state = hostLink.operstate;
  // The port turns UP a few ms after `link set up`: poll early and cheaply (sysfs, no process), up to ~2.5 s.
  for (const ms of [2, 5, 10, 25, 50, 100, 250, 500, 1000, 600]) {
    if (state === 'UP') return;
    await new Promise((r) => setTimeout(r, ms));
    state = operstateFromSysfs(hostLink) ?? (await getLink(hostLink.ifname))?.operstate ?? 'gone';
  }
  if (state !== 'UP') throw new Error(`bridge port in error state: ${state}`);
}

/** The link's operstate from /sys, when this process's sysfs shows this namespace's link (same ifindex). */
function operstateFromSysfs(link: Link): string | undefined {
  try {
    const dir = `/sys/class/net/${link.ifname}`;
    if (Number(readText(`${dir}/ifindex`)) !== link.ifindex) return undefined;
    return readText(`${dir}/operstate`).trim().toUpperCase();
  } catch {
    return undefined;
  }
}

const masqOwner = (args: CmdArgs) => ({
  network: args.netConf.name ?? '',
  containerID: args.containerID,
  ifName: args.ifName,
});
const spoofID = (args: CmdArgs) => ({ containerID: args.containerID, ifName: args.ifName });

export const bridge: PluginFuncs = {
  add,
  del,
  check,
  gc,
  status: (args) => forwardStatusToIpam(args, loadBridgeConf(args, { forDel: true }).ipamType),
};
