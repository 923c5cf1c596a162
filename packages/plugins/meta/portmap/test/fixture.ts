/** A node namespace with a "node IP", a hairpin bridge from the reference bridge + host-local, and pods on it. */
import { REFERENCE_BIN, TestNode, type PluginEnv } from '@tscni/net/testing';
import { join } from 'node:path';

export const NODE_IP = '192.168.77.1';
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
    // The node's "uplink" with the node IP (a veth pair: this kernel has no dummy driver).
    this.node.exec('ip', ['link', 'add', 'node0', 'type', 'veth', 'peer', 'name', 'node0peer']);
    this.node.exec('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', 'node0']);
    this.node.exec('ip', ['link', 'set', 'node0', 'up']);
    this.node.exec('ip', ['link', 'set', 'node0peer', 'up']);
    // A real node always tracks connections (kube-proxy, ipMasq); make sure this one does before any plugin runs.
    this.node.exec('nft', ['-f', '-'], { input: 'add table ip fixture\nadd chain ip fixture out { type filter hook output priority 0 ; }\nadd rule ip fixture out ct state new counter\n' });
  }

  env(command: string, containerID: string, netns: string): PluginEnv {
    return { CNI_COMMAND: command, CNI_CONTAINERID: containerID, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: REFERENCE_BIN };
  }

  private bridgeConf() {
    return {
      cniVersion: '1.0.0',
      name: NET,
      type: 'bridge',
      bridge: 'pmbr0',
      isDefaultGateway: true,
      hairpinMode: true,
      ipam: { type: 'host-local', subnet: '10.77.0.0/24', dataDir: join(this.node.tmp, 'ipam') },
    };
  }

  /** A pod attached to the bridge by the reference bridge plugin; its ADD result is the prevResult for portmap. */
  async addPod(): Promise<Pod> {
    const netns = this.node.addPod('pp');
    const containerID = `pm-ctr-${this.n++}`;
    const r = await this.node.runPlugin(join(REFERENCE_BIN, 'bridge'), this.env('ADD', containerID, netns), this.bridgeConf());
    if (r.code !== 0) throw new Error(`bridge ADD failed: ${r.stdout}${r.stderr}`);
    return { netns, containerID, ip: r.json.ips[0].address.split('/')[0], result: r.json };
  }

  async delPod(pod: Pod): Promise<void> {
    await this.node.runPlugin(join(REFERENCE_BIN, 'bridge'), this.env('DEL', pod.containerID, pod.netns), this.bridgeConf());
  }

  natRules(family: 4 | 6 = 4): string {
    return this.node.exec(family === 4 ? 'iptables-save' : 'ip6tables-save', ['-t', 'nat']).split('\n').filter((l) => !l.startsWith('#')).join('\n');
  }

  nftRuleset(): string {
    return this.node.exec('nft', ['list', 'ruleset']);
  }

  destroy(): void {
    this.node.destroy();
  }
}
