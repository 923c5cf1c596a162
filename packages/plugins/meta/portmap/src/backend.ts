import type { CIDR } from '@tscni/net/host';
import type { PortMapConf } from './config';
import { iptablesPortMapper } from './iptables-backend';
import { nftablesPortMapper } from './nftables-backend';

/** One way of writing an attachment's port mappings (the reference's PortMapper). */
export interface PortMapper {
  /** ADD for one address family: the container's rules written fresh. */
  forward(conf: PortMapConf, container: CIDR): Promise<void>;
  /** CHECK for one address family. */
  check(conf: PortMapConf, container: CIDR): Promise<void>;
  /** DEL: the attachment's rules in both families; found by container ID, no mappings needed. */
  unforward(conf: PortMapConf): Promise<void>;
  /** GC: the rules of this network's attachments whose container ID is not in `validIDs`. */
  gc(conf: PortMapConf, validIDs: Set<string>): Promise<void>;
}

/** The backend the config selected (parseConf has already resolved a missing `backend`). */
export const portMapperFor = (conf: PortMapConf): PortMapper =>
  conf.backend === 'nftables' ? nftablesPortMapper : iptablesPortMapper;
