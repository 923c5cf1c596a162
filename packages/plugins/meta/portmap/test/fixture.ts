/** A node namespace with a "node IP", a hairpin bridge from the reference bridge + host-local, and pods on it. */
import { REFERENCE_BIN, TestNode, sh, type PluginEnv } from '@tscni/testing/node';
import { join } from 'node:path';

export const NODE_IP = '192.168.77.1';
export const NODE_IP6 = 'fd00:77::1';
export const NET = 'pmnet';

export interface Pod {
  netns: string;
  containerID: string;
  ip: string;
  result: Record<string, unknown>;
}

export class PortmapNode {
  readonly node = new TestNode('pm');
  private n = 0;

  constructor() {
    try {
      // The node's "uplink" with the node IP (a veth pair: this kernel has no dummy driver).
      this.node.exec('ip', ['link', 'add', 'node0', 'type', 'veth', 'peer', 'name', 'node0peer']);
      this.node.exec('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', 'node0']);
      this.node.exec('ip', ['addr', 'add', `${NODE_IP6}/64`, 'dev', 'node0', 'nodad']);
      this.node.exec('ip', ['link', 'set', 'node0', 'up']);
      this.node.exec('ip', ['link', 'set', 'node0peer', 'up']);
      // A real node always tracks connections (kube-proxy, ipMasq); make sure this one does before any plugin runs.
      this.node.exec('nft', ['-f', '-'], {
        input:
          'add table ip fixture\nadd chain ip fixture out { type filter hook output priority 0 ; }\nadd rule ip fixture out ct state new counter\n',
      });
    } catch (err) {
      this.node.destroy(); // afterAll never sees a half-built fixture
      throw err;
    }
  }

  env(command: string, containerID: string, netns: string): PluginEnv {
    return {
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerID,
      CNI_NETNS: netns,
      CNI_IFNAME: 'eth0',
      CNI_PATH: REFERENCE_BIN,
    };
  }

  private bridgeConf(dualStack = false) {
    return {
      cniVersion: '1.0.0',
      name: NET,
      type: 'bridge',
      bridge: dualStack ? 'pmbr6' : 'pmbr0',
      isDefaultGateway: true,
      hairpinMode: true,
      ipam: dualStack
        ? {
            type: 'host-local',
            ranges: [[{ subnet: '10.76.0.0/24' }], [{ subnet: 'fd76::/64' }]],
            dataDir: join(this.node.tmp, 'ipam6'),
          }
        : { type: 'host-local', subnet: '10.77.0.0/24', dataDir: join(this.node.tmp, 'ipam') },
    };
  }

  /** A pod attached to the bridge by the reference bridge plugin; its ADD result is the prevResult for portmap. */
  /** `dualStack`: on a second bridge (pmbr6) with an IPv4 and an IPv6 range; `ip6` is then set. */
  async addPod(dualStack = false): Promise<Pod & { ip6?: string }> {
    const netns = this.node.addPod('pp');
    const containerID = `pm-ctr-${this.n++}`;
    const r = await this.node.runPlugin(
      join(REFERENCE_BIN, 'bridge'),
      this.env('ADD', containerID, netns),
      this.bridgeConf(dualStack),
    );
    if (r.code !== 0) throw new Error(`bridge ADD failed: ${r.stdout}${r.stderr}`);
    if (dualStack) await this.settleIPv6(netns);
    const addr = (family: string) =>
      (r.json.ips as { address: string }[])
        .map((i) => i.address.split('/')[0])
        .find((a) => (family === '6') === a.includes(':'));
    return { netns, containerID, ip: addr('4')!, ip6: addr('6'), result: r.json };
  }

  /** Wait (≤ 5 s) until DAD is over for the pod's and the bridge's IPv6 addresses: tentative ones cannot carry traffic. */
  private async settleIPv6(netns: string): Promise<void> {
    const tentative = (ns: string, dev: string) =>
      sh('ip', ['-j', '-6', 'addr', 'show', 'dev', dev, 'tentative'], { netns: ns, allowFail: true }).includes(
        '"local"',
      );
    for (let i = 0; i < 50 && (tentative(netns, 'eth0') || tentative(this.node.path, 'pmbr6')); i++)
      await new Promise((r) => setTimeout(r, 100));
  }

  async delPod(pod: Pod): Promise<void> {
    await this.node.runPlugin(
      join(REFERENCE_BIN, 'bridge'),
      this.env('DEL', pod.containerID, pod.netns),
      this.bridgeConf(),
    );
  }

  natRules(family: 4 | 6 = 4): string {
    return this.node
      .exec(family === 4 ? 'iptables-save' : 'ip6tables-save', ['-t', 'nat'])
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');
  }

  nftRuleset(): string {
    return this.node.exec('nft', ['list', 'ruleset']);
  }

  destroy(): void {
    this.node.destroy();
  }
}
