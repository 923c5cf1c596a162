import type { CIDR } from '@tscni/net/host';
import type { IPFamily } from '@tscni/net/netfilter';
import type { PortMapConf } from './config';
import { iptablesPortMapper } from './iptables-backend';
import { nftablesPortMapper } from './nftables-backend';

/**
 * One way of writing an attachment's port mappings (the reference's PortMapper). Each method takes the rules lock
 * itself around whatever it reads and then writes from what it read.
 */
export interface PortMapper {
  /** ADD: the container's rules written fresh in each family it has an address in (one CIDR per family). */
  forward(conf: PortMapConf, containers: readonly CIDR[]): Promise<void>;
  /** CHECK for one address family. */
  check(conf: PortMapConf, container: CIDR): Promise<void>;
  /**
   * DEL: the attachment's rules, found by container ID. `families`: where ADD wrote them (the cached prevResult's
   * addresses), so only those need looking at; without it, both families are looked through.
   */
  unforward(conf: PortMapConf, families?: readonly IPFamily[]): Promise<void>;
  /** GC: the rules of this network's attachments whose container ID is not in `validIDs`. */
  gc(conf: PortMapConf, validIDs: Set<string>): Promise<void>;
}

/** The backend the config selected (parseConf has already resolved a missing `backend`). */
export const portMapperFor = (conf: PortMapConf): PortMapper =>
  conf.backend === 'nftables' ? nftablesPortMapper : iptablesPortMapper;
