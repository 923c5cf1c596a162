import { CniError, ErrorCode, findInPath } from '@tscni/cni';
import { sideBySide } from '@tscni/net/host';
import { CNIConfig, confListFromBytes, loadDefaultConfList, type ResultJSON } from '@tscni/libcni';
import { embeddedDefaultNetwork } from './default-network';
import { OUR_PLUGINS } from '@tscni/in-process-plugins';
import type { PodCniArgs } from './pod-cni-args';

/**
 * The harness's only door to CNI (@tscni/libcni, shaped like the upstream Go libcni): which networks
 * a pod gets, and ADD/DEL/STATUS on them. Like containerd's go-cni, every pod gets two networks:
 * the loopback network on `lo` and the default network (the first valid config of the conf dir, or
 * the embedded one) on `eth0`.
 */
export interface PodNetworkSettings {
  confDir: string;
  binDirs: string[];
  cacheDir: string;
  stateDir: string;
  defaultNetwork: 'embedded' | 'none';
  /** Call a plugin in the harness's own process when CNI_PATH resolves to our build of it (default true). */
  inProcess?: boolean;
}

export interface PodAttachment extends PodCniArgs {
  containerID: string;
  netNS: string;
}

/** go-cni's loopback network, always attached first. */
const LOOPBACK = JSON.stringify({ cniVersion: '0.3.1', name: 'cni-loopback', plugins: [{ type: 'loopback' }] });
export const POD_IFNAME = 'eth0';

export interface NetworkStatus {
  ready: boolean;
  message: string;
  /** Where the default network came from: a file of the conf dir, `embedded`, or nothing. */
  source?: string;
  confList?: string;
  /** Set while an IPAM pool reports it is full (STATUS 50 "no IP addresses available"): informative only. */
  capacity?: string;
}

/**
 * STATUS 50 because a pool has no address left (host-local's "no IP addresses available in range set …"): a
 * capacity matter of that pool, not a network that cannot work. A kubelet must not take the node out of
 * scheduling for it; the pod that finds no address fails on its own.
 */
const isPoolFull = (e: unknown): boolean =>
  e instanceof CniError && e.code === ErrorCode.PluginNotAvailable && /no IP addresses available/i.test(e.message);

export class PodNetworks {
  private readonly cni: CNIConfig;

  constructor(
    private readonly settings: PodNetworkSettings,
    onStderr: (text: string, plugin: { type: string; verb: string }) => void,
  ) {
    this.cni = new CNIConfig({
      binDirs: settings.binDirs,
      cacheDir: settings.cacheDir,
      onStderr,
      inProcess: settings.inProcess === false ? undefined : OUR_PLUGINS,
    });
  }

  /** The default network's conflist JSON and where it came from, re-read on every call (as a conf-dir watch would). */
  defaultNetwork(): { confList: string; source: string } | undefined {
    const list = loadDefaultConfList(this.settings.confDir);
    if (list) return { confList: list.bytes.toString(), source: this.settings.confDir };
    if (this.settings.defaultNetwork === 'embedded')
      return { confList: embeddedDefaultNetwork(this.settings.stateDir), source: 'embedded' };
    return undefined;
  }

  /**
   * NetworkReady, what a kubelet needs before it schedules pods here: a default network is loaded and parses, its
   * plugins exist, and (CNI ≥ 1.1.0) their STATUS is fine — except a full IPAM pool, reported as `capacity`.
   */
  async status(): Promise<NetworkStatus> {
    const net = this.defaultNetwork();
    if (!net) return { ready: false, message: 'Network plugin returns error: cni plugin not initialized' };
    const full: string[] = [];
    try {
      const lists = [confListFromBytes(LOOPBACK), confListFromBytes(net.confList)];
      for (const list of lists)
        for (const plugin of list.plugins) findInPath(plugin.network.type, this.settings.binDirs);
      for (const list of lists) {
        await this.cni.getStatusNetworkList(list).catch((e: unknown) => {
          if (!isPoolFull(e)) throw e;
          full.push((e as Error).message);
        });
      }
    } catch (e) {
      return { ready: false, message: `Network plugin returns error: ${(e as Error).message}`, ...net };
    }
    return { ready: true, message: '', ...net, ...(full.length ? { capacity: full.join('; ') } : {}) };
  }

  /** ADD the loopback and the pod network concurrently (as go-cni); the pod network's result is returned. */
  async setup(confList: string, pod: PodAttachment, signal?: AbortSignal): Promise<ResultJSON> {
    const [lo, eth0] = await Promise.allSettled([
      this.cni.addNetworkList(confListFromBytes(LOOPBACK), this.runtimeConf(pod, 'lo'), signal),
      this.cni.addNetworkList(confListFromBytes(confList), this.runtimeConf(pod, POD_IFNAME), signal),
    ]);
    if (eth0.status === 'rejected') throw eth0.reason;
    if (lo.status === 'rejected') throw lo.reason;
    return eth0.value;
  }

  /**
   * DEL the loopback network and the pod network (its plugins in reverse, with the cached result) side by side:
   * both are always attempted, and a failure of the loopback's is reported first.
   */
  async teardown(confList: string, pod: PodAttachment): Promise<void> {
    await sideBySide([
      () => this.cni.delNetworkList(confListFromBytes(LOOPBACK), this.runtimeConf(pod, 'lo')),
      () => this.cni.delNetworkList(confListFromBytes(confList), this.runtimeConf(pod, POD_IFNAME)),
    ]);
  }

  private runtimeConf(pod: PodAttachment, ifName: string) {
    return {
      containerID: pod.containerID,
      netNS: pod.netNS,
      ifName,
      args: pod.args,
      capabilityArgs: pod.capabilityArgs,
    };
  }
}
