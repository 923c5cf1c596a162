/**
 * One measurement of a plugin directory: VERSION of one exec, one pod's ADD and DEL of a list of networks (timed
 * through our libcni, which runs each plugin inside the node namespace), and a burst of pods in parallel.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CNIConfig, confListFromBytes, execInNetns, type NetworkConfigList } from '@tscni/libcni';
import { sh, type TestNode } from '@tscni/testing/node';
import { now } from './stats';

/** A plugin directory under test; `tag` keeps its bridges, subnets and cache apart from the other sides'. */
export interface BinSet {
  tag: string;
  dir: string;
  /** Second octet of its subnets: 10.<n>.0.0/16 (bridge), 10.<n+1>.0.0/16 (chain), 10.<n+2>.0.0/16 (burst). */
  net: number;
}

export function timeVersion(set: BinSet, plugin = 'bridge'): number {
  const t = now();
  const r = spawnSync(join(set.dir, plugin), [], {
    // The TSCNI_* settings too: a resident shim finds its daemon through them (e2e/bench/resident.ts).
    env: { ...tscniSettings(), PATH: process.env.PATH, CNI_COMMAND: 'VERSION' },
    input: '{"cniVersion":"1.0.0"}',
  });
  const ms = now() - t;
  if (r.status !== 0) throw new Error(`${set.dir}/${plugin} VERSION exited ${r.status}: ${r.stdout}${r.stderr}`);
  return ms;
}

/** This process's TSCNI_* settings, TSCNI_PLUGIND_SOCKET included (a resident shim finds its daemon through it). */
const tscniSettings = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('TSCNI_') && e[1] !== undefined),
  );

/** A pod's runtime config for the Kubernetes chain: one TCP port mapping to port 80 and 100 Mbit/s each way. */
export const chainRuntime = (containerID: string, netNS: string, hostPort: number, ifName = 'eth0') => ({
  containerID,
  netNS,
  ifName,
  capabilityArgs: {
    portMappings: [{ hostPort, containerPort: 80, protocol: 'tcp' }],
    bandwidth: { ingressRate: 100e6, ingressBurst: 10e6, egressRate: 100e6, egressBurst: 10e6 },
  },
});

export class CniBench {
  private seq = 0;
  constructor(readonly node: TestNode) {}

  private list(name: string, plugins: Record<string, unknown>[]): NetworkConfigList {
    return confListFromBytes(JSON.stringify({ cniVersion: '1.0.0', name, plugins }));
  }

  loopback(): NetworkConfigList {
    return this.list('cni-loopback', [{ type: 'loopback' }]);
  }

  bridge(set: BinSet, kind: 'bh' | 'burst' = 'bh'): NetworkConfigList {
    const octet = kind === 'bh' ? set.net : set.net + 2;
    return this.list(`${kind}-${set.tag}`, [
      {
        type: 'bridge',
        bridge: `${kind === 'bh' ? 'bh' : 'bu'}-${set.tag}`,
        isGateway: true,
        ipam: { type: 'host-local', subnet: `10.${octet}.0.0/16`, dataDir: join(this.node.tmp, 'ipam') },
      },
    ]);
  }

  /** The Kubernetes chain of the issue: bridge(ipMasq) → portmap → bandwidth → tuning. */
  chainPlugins(
    set: BinSet,
    bridge = `k8-${set.tag}`,
    subnet = `10.${set.net + 1}.0.0/16`,
    dataDir = this.node.tmp,
  ): Record<string, unknown>[] {
    return [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', subnet, dataDir: join(dataDir, 'ipam') },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      { type: 'bandwidth', capabilities: { bandwidth: true } },
      { type: 'tuning', sysctl: { 'net.ipv4.conf.IFNAME.arp_ignore': '1' } },
    ];
  }

  /**
   * bridge(ipMasq) + host-local alone; `backend` sets `ipMasqBackend` (Debian's reference, 1.1.1, ignores it: iptables).
   * Each backend its own bridge and half of 10.<n+2>.0.0/16 (the burst's subnet: not in the same run).
   */
  masq(set: BinSet, backend?: 'iptables' | 'nftables'): NetworkConfigList {
    const nft = backend === 'nftables';
    const name = `${nft ? 'mn' : 'mq'}-${set.tag}`;
    const [bridge] = this.chainPlugins(set, name, `10.${set.net + 2}.${nft ? 128 : 0}.0/17`);
    return this.list(name, [{ ...bridge, ...(backend ? { ipMasqBackend: backend } : {}) }]);
  }

  chain(set: BinSet): NetworkConfigList {
    return this.list(`k8s-${set.tag}`, this.chainPlugins(set));
  }

  private cni(set: BinSet): CNIConfig {
    return new CNIConfig({
      binDirs: [set.dir],
      cacheDir: join(this.node.tmp, `cache-${set.tag}`),
      exec: execInNetns(this.node.path),
    });
  }

  /** ADD then DEL of `list` for one new pod; the pod netns is deleted afterwards. */
  async pod(set: BinSet, list: NetworkConfigList, ifName = 'eth0'): Promise<{ add: number; del: number }> {
    const c = this.cni(set);
    const netns = this.node.addPod();
    const i = this.seq++;
    const rt = chainRuntime(`bench${i}`, netns, 20000 + (i % 20000), ifName);
    let t = now();
    await c.addNetworkList(list, rt);
    const add = now() - t;
    t = now();
    await c.delNetworkList(list, rt);
    const del = now() - t;
    this.dropPod(netns);
    return { add, del };
  }

  /** `pods` pods through `list`, `parallel` at a time: the wall time of all ADDs then all DELs. */
  async burst(
    set: BinSet,
    list: NetworkConfigList,
    pods: number,
    parallel: number,
  ): Promise<{ add: number; del: number; failed: number }> {
    const c = this.cni(set);
    const all = Array.from({ length: pods }, () => ({ netns: this.node.addPod(), id: `burst${this.seq++}` }));
    let failed = 0;
    const each = async (fn: (p: (typeof all)[number]) => Promise<unknown>) => {
      let next = 0;
      const t = now();
      await Promise.all(
        Array.from({ length: parallel }, async () => {
          while (next < all.length) await fn(all[next++]).catch(() => failed++);
        }),
      );
      return now() - t;
    };
    const add = await each((p) => c.addNetworkList(list, { containerID: p.id, netNS: p.netns, ifName: 'eth0' }));
    const del = await each((p) => c.delNetworkList(list, { containerID: p.id, netNS: p.netns, ifName: 'eth0' }));
    for (const p of all) this.dropPod(p.netns);
    return { add, del, failed };
  }

  private dropPod(netns: string): void {
    const name = netns.split('/').pop()!;
    sh('ip', ['netns', 'delete', name], { allowFail: true });
    const k = this.node.pods.indexOf(name);
    if (k >= 0) this.node.pods.splice(k, 1);
  }
}
