/** Pods for kernel tests of interface plugins, and observations of them: ping from a pod, masquerade rules, host-local leases, an outside netns. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DIST_BIN, sh, uniqueName, type TestNode } from './test-node';

/** A command in the node namespace (TestNode.exec without the method call). */
const inNode = (node: TestNode, cmd: string, args: string[], opts: { allowFail?: boolean } = {}): string =>
  sh(cmd, args, { ...opts, netns: node.name });

export interface PodAttachment {
  containerId: string;
  /** The network's name (host-local keeps its leases under it). */
  network: string;
  /** The main plugin's `type` and its own keys (ipam aside). */
  plugin: { type: string } & Record<string, unknown>;
  /** host-local's ranges: one subnet per range set (one per family for a dual-stack pod). */
  subnets: string[];
}

/**
 * ADD of a pod's eth0 through our build of `plugin.type` (host-local from our build too, leases in the node's
 * tmp dir); the pod's addresses without their prefix, in the result's order. A failed ADD throws its output.
 */
export async function attachPod(node: TestNode, netns: string, a: PodAttachment): Promise<string[]> {
  const conf = {
    cniVersion: '1.0.0',
    name: a.network,
    ...a.plugin,
    ipam: { type: 'host-local', ranges: a.subnets.map((subnet) => [{ subnet }]), dataDir: join(node.tmp, 'ipam') },
  };
  const env = {
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: a.containerId,
    CNI_NETNS: netns,
    CNI_IFNAME: 'eth0',
    CNI_PATH: DIST_BIN,
  };
  const r = await node.runPlugin(join(DIST_BIN, a.plugin.type), env, conf);
  if (r.code !== 0) throw new Error(`${a.plugin.type} ADD: ${r.stdout}${r.stderr}`);
  return (r.json.ips as { address: string }[]).map((ip) => ip.address.split('/')[0]);
}

/** attachPod on our bridge plugin: bridge `bridge` in the node, the pods' gateway. */
export const attachBridgePod = (
  node: TestNode,
  netns: string,
  a: Omit<PodAttachment, 'plugin'> & { bridge: string },
): Promise<string[]> => attachPod(node, netns, { ...a, plugin: { type: 'bridge', bridge: a.bridge, isGateway: true } });

/** One ICMP echo from a pod; `waitS` is the deadline (IPv6 addresses of the reference may still be tentative). */
export function pings(netns: string, ip: string, waitS = 2): boolean {
  const r = spawnSync('nsenter', [
    `--net=${netns}`,
    '--',
    'ping',
    ip.includes(':') ? '-6' : '-4',
    '-c1',
    '-w',
    String(waitS),
    '-q',
    ip,
  ]);
  return r.status === 0;
}

export const natRules = (node: TestNode, family: 4 | 6 = 4): string[] =>
  inNode(node, family === 4 ? 'iptables-save' : 'ip6tables-save', ['-t', 'nat'])
    .split('\n')
    .filter((l) => l.includes('CNI-'));

export const rulesOf = (node: TestNode, cid: string, family: 4 | 6 = 4): string[] =>
  natRules(node, family).filter((l) => l.includes(`id: \\"${cid}\\"`));

/** The node's whole netfilter state as text: `nft list ruleset` and both families' `iptables-save` (no comments). */
export function netfilterRulesets(node: TestNode): { nft: string; iptables: string[]; ip6tables: string[] } {
  const saved = (tool: string) =>
    inNode(node, tool, [])
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
  return {
    nft: inNode(node, 'nft', ['list', 'ruleset']),
    iptables: saved('iptables-save'),
    ip6tables: saved('ip6tables-save'),
  };
}

export function nftMasqRules(node: TestNode, cid: string): string[] {
  const out = inNode(node, 'nft', ['list', 'table', 'inet', 'cni_plugins_masquerade'], { allowFail: true });
  return out.split('\n').filter((l) => l.includes(`id: ${cid}"`));
}

/** host-local lease files (named by the IP) of a network. */
export function leases(dataDir: string, network: string): string[] {
  const dir = join(dataDir, network);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip'));
}

export const hostVeths = (node: TestNode): string[] =>
  (JSON.parse(inNode(node, 'ip', ['-j', 'link', 'show', 'type', 'veth']) || '[]') as { ifname: string }[]).map(
    (l) => l.ifname,
  );

export const podLink = (
  netns: string,
  dev = 'eth0',
): { ifname: string; flags: string[]; address: string; mtu: number; operstate: string } | undefined =>
  JSON.parse(sh('ip', ['-j', 'link', 'show', 'dev', dev], { netns, allowFail: true }) || '[]')[0];

/**
 * An "outside world" joined to the node by a veth: the node is 198.51.100.1/24 and the outside
 * 198.51.100.2/24 with no route back to any pod subnet, so only masqueraded pod traffic is answered.
 */
export function addOutside(node: TestNode): string {
  const outside = node.addPod('out');
  const name = outside.split('/').pop()!;
  const [a, b] = [uniqueName('o'), uniqueName('o')];
  inNode(node, 'ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', name]);
  inNode(node, 'ip', ['addr', 'add', '198.51.100.1/24', 'dev', a]);
  inNode(node, 'ip', ['link', 'set', a, 'up']);
  sh('ip', ['addr', 'add', '198.51.100.2/24', 'dev', b], { netns: outside });
  sh('ip', ['link', 'set', b, 'up'], { netns: outside });
  return outside;
}

/** Is VLAN filtering on bridges available (CONFIG_BRIDGE_VLAN_FILTERING)? */
export function vlanFilteringMissing(node: TestNode): string | undefined {
  const name = uniqueName('v');
  const r = spawnSync('ip', [
    'netns',
    'exec',
    node.name,
    'ip',
    'link',
    'add',
    name,
    'type',
    'bridge',
    'vlan_filtering',
    '1',
  ]);
  if (r.status !== 0)
    return `needs CONFIG_BRIDGE_VLAN_FILTERING (ip link add type bridge vlan_filtering 1: ${String(r.stderr).trim()})`;
  inNode(node, 'ip', ['link', 'del', name]);
  return undefined;
}
