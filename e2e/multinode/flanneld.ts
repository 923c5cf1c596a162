/**
 * flannel's VXLAN conventions as the multinode suites check them (tscni-agent sets them up; see
 * agent-cluster.ts): the cluster network, the `flannel.1` VTEP, its port and MTU, and a node's lease.
 */

export const CLUSTER_NETWORK = '10.244.0.0/16';
export const VTEP_DEV = 'flannel.1';
/** flanneld's default VXLAN port (the Linux kernel's historical one, not IANA's 4789). */
export const VXLAN_PORT = 8472;
/** The underlay's 1500 bytes less the 50 of VXLAN encapsulation (outer IPv4, UDP, VXLAN, inner Ethernet). */
export const FLANNEL_MTU = 1450;

/** A node's share of the cluster network and how other nodes reach it (its lease in etcd). */
export interface Lease {
  /** The node's pod subnet, 10.244.<n>.0/24: its .0 is the VTEP's address, its .1 the bridge's gateway. */
  subnet: string;
  vtepIp: string;
  vtepMac: string;
  underlayIp: string;
  /** Dual-stack: the node's IPv6 pod subnet (fd00:10:244:<n>::/64) and its `flannel-v6.1` VTEP's MAC. */
  subnet6?: string;
  vtepMac6?: string;
}
