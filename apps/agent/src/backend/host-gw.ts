/**
 * flannel's host-gw backend: each peer's subnet routed via the peer's public IP on the external
 * interface (on a dual-stack network also its IPv6 subnet via its PublicIPv6). That only works when the
 * peer is on this node's L2 segment (its address reached without a gateway, through the external
 * interface); a peer that is not is refused, named in a log line and the refused-peers metric, and left
 * without a route.
 */
import { formatCIDR, type CIDR } from '@tscni/net/host';
import type { Lease } from '../lease';
import type { NetworkConfig } from '../network';
import type { ExternalIface } from '../iface';
import type { Backend, SyncResult } from './backend';
import { notOnLink, syncDirectRoutes } from './direct-routes';

const WHY = 'host-gw needs every node on one L2 segment, but';

export class HostGwBackend implements Backend {
  readonly type = 'host-gw' as const;

  constructor(
    private readonly cfg: NetworkConfig,
    private readonly ext: ExternalIface,
  ) {}

  async init() {
    return { data: null, mtu: this.ext.mtu };
  }

  async setLocalSubnet(_subnet: CIDR, _subnet6?: CIDR) {}

  async sync(peers: Lease[]): Promise<SyncResult> {
    const refused: SyncResult['refused'] = [];
    const want = new Map<string, string>();
    const want6 = new Map<string, string>();
    for (const p of peers.filter((l) => l.attrs.BackendType === 'host-gw')) {
      const reason = await notOnLink(p.attrs.PublicIP, this.ext.name);
      if (reason)
        refused.push({ subnet: formatCIDR(p.subnet), publicIP: p.attrs.PublicIP, reason: `${WHY} ${reason}` });
      else want.set(formatCIDR(p.subnet), p.attrs.PublicIP);
      if (!this.cfg.ipv6 || !p.subnet6 || !p.attrs.PublicIPv6) continue;
      const reason6 = await notOnLink(p.attrs.PublicIPv6, this.ext.name);
      if (reason6)
        refused.push({ subnet: formatCIDR(p.subnet6), publicIP: p.attrs.PublicIPv6, reason: `${WHY} ${reason6}` });
      else want6.set(formatCIDR(p.subnet6), p.attrs.PublicIPv6);
    }
    const changes = await syncDirectRoutes(4, this.ext.name, this.cfg.network, want);
    if (this.cfg.ipv6) changes.push(...(await syncDirectRoutes(6, this.ext.name, this.cfg.ipv6.network, want6)));
    return { programmed: want.size, refused, changes };
  }

  async teardown() {
    await this.sync([]);
  }
}
