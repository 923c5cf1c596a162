/** What a backend does on the node: set up its device, then keep the kernel in step with the peer leases. */
import type { CIDR } from '@tscni/net/host';
import type { Lease, VxlanData } from '../lease';

export interface SyncResult {
  /** Peers whose routes are in place. */
  programmed: number;
  /** Peers left out, with why (e.g. a host-gw peer that is not on this node's L2 segment). */
  refused: { subnet: string; publicIP: string; reason: string }[];
  /** One line per kernel change made (added/changed/removed routes, neighbours, FDB entries). */
  changes: string[];
}

export interface Backend {
  readonly type: 'vxlan' | 'host-gw';
  /** Create or adopt the device(s); returns the lease's BackendData (and BackendV6Data) and the pod MTU. */
  init(): Promise<{ data: VxlanData | null; data6?: VxlanData; mtu: number }>;
  /** Give the device(s) this node's subnets (vxlan: their first addresses). */
  setLocalSubnet(subnet: CIDR, subnet6?: CIDR): Promise<void>;
  /** Bring routes (and neighbours, FDB entries) in step with `peers` (this node's own lease excluded). */
  sync(peers: Lease[]): Promise<SyncResult>;
  /** Remove everything the backend added (the clean-shutdown flag). */
  teardown(): Promise<void>;
}
