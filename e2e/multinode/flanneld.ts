/**
 * What flanneld's VXLAN backend does on a node, done by the test fixture instead of a daemon: a lease of
 * one /24 of the cluster network, the `flannel.1` VTEP on the underlay interface, the `--ip-masq` rules,
 * subnet.env for the CNI plugin, and for every other node's lease a route, a neighbour and an FDB entry.
 */
import { writeFileSync } from 'node:fs';
import type { TestNode } from '@tscni/net/testing';

export const CLUSTER_NETWORK = '10.244.0.0/16';
export const VTEP_DEV = 'flannel.1';
/** flanneld's default VXLAN port (the Linux kernel's historical one, not IANA's 4789). */
export const VXLAN_PORT = 8472;
/** The underlay's 1500 bytes less the 50 of VXLAN encapsulation (outer IPv4, UDP, VXLAN, inner Ethernet). */
export const FLANNEL_MTU = 1450;

/** A node's share of the cluster network and how other nodes reach it (flanneld keeps it in node annotations). */
export interface Lease {
  /** The node's pod subnet, 10.244.<n>.0/24: its .0 is the VTEP's address, its .1 the bridge's gateway. */
  subnet: string;
  vtepIp: string;
  vtepMac: string;
  underlayIp: string;
}

/** Take lease number `n` on `node`: VTEP up, masquerade rules in place, subnet.env written. */
export function startFlanneld(node: TestNode, n: number, underlayIp: string, subnetFile: string): Lease {
  const subnet = `10.244.${n}.0/24`;
  const vtepIp = `10.244.${n}.0`;
  node.exec('ip', ['-batch', '-'], {
    input: lines([
      `link add ${VTEP_DEV} type vxlan id 1 local ${underlayIp} dev eth0 nolearning dstport ${VXLAN_PORT}`,
      `link set ${VTEP_DEV} mtu ${FLANNEL_MTU}`,
      `addr add ${vtepIp}/32 dev ${VTEP_DEV}`,
      `link set ${VTEP_DEV} up`,
    ]),
  });
  node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']); // a kubelet node forwards
  node.exec('iptables-restore', ['--noflush'], { input: ipMasqRules(subnet) });
  writeFileSync(subnetFile, `FLANNEL_NETWORK=${CLUSTER_NETWORK}\nFLANNEL_SUBNET=10.244.${n}.1/24\nFLANNEL_MTU=${FLANNEL_MTU}\nFLANNEL_IPMASQ=true\n`);
  const vtepMac = (JSON.parse(node.exec('ip', ['-j', 'link', 'show', 'dev', VTEP_DEV])) as { address: string }[])[0].address;
  return { subnet, vtepIp, vtepMac, underlayIp };
}

/**
 * Learn the other nodes' leases: their pod subnet is routed to their VTEP address on flannel.1 (`onlink`:
 * that /32 is on no local subnet), the VTEP address resolves to their VTEP MAC without ARP, and frames
 * for that MAC go to their underlay address (`nolearning`: the FDB only holds what flanneld put there).
 */
export function learnPeers(node: TestNode, peers: Lease[]): void {
  node.exec('ip', ['-batch', '-'], {
    input: lines(peers.flatMap((p) => [`route add ${p.subnet} via ${p.vtepIp} dev ${VTEP_DEV} onlink`, `neigh add ${p.vtepIp} lladdr ${p.vtepMac} dev ${VTEP_DEV} nud permanent`])),
  });
  node.exec('bridge', ['-batch', '-'], { input: lines(peers.map((p) => `fdb add ${p.vtepMac} dev ${VTEP_DEV} dst ${p.underlayIp} self permanent`)) });
}

/**
 * flanneld --ip-masq: traffic inside the cluster network keeps its addresses; pods going elsewhere (the
 * underlay included) are masqueraded, and so is anything from outside the cluster to another node's pods.
 * (So the delegate gets ipMasq false: FLANNEL_IPMASQ=true.)
 */
function ipMasqRules(subnet: string): string {
  const rule = (match: string, target: string) => `-A FLANNEL-POSTRTG ${match} -m comment --comment "flanneld masq" -j ${target}`;
  return lines([
    '*nat',
    ':FLANNEL-POSTRTG - [0:0]',
    '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
    rule(`-s ${subnet} -d ${CLUSTER_NETWORK}`, 'RETURN'),
    rule(`-s ${CLUSTER_NETWORK} -d ${subnet}`, 'RETURN'),
    rule(`! -s ${CLUSTER_NETWORK} -d ${subnet}`, 'RETURN'),
    rule(`-s ${CLUSTER_NETWORK} ! -d 224.0.0.0/4`, 'MASQUERADE'),
    rule(`! -s ${CLUSTER_NETWORK} -d ${CLUSTER_NETWORK}`, 'MASQUERADE'),
    'COMMIT',
  ]);
}

const lines = (l: string[]): string => l.join('\n') + '\n';
