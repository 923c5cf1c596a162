/** Observations for kernel tests of interface plugins: ping from a pod, masquerade rules, host-local leases, an outside netns. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sh, uniqueName, type TestNode } from './test-node';

/** A command in the node namespace (TestNode.exec without the method call). */
const inNode = (node: TestNode, cmd: string, args: string[], opts: { allowFail?: boolean } = {}): string =>
  sh(cmd, args, { ...opts, netns: node.name });

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
