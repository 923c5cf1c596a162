/**
 * flannel's host-gw backend: each peer's subnet routed via the peer's public IP on the external
 * interface. That only works when the peer is on this node's L2 segment (its address reached without a
 * gateway, through the external interface); a peer that is not is refused, named in a log line and the
 * refused-peers metric, and left without a route.
 */
import { cidrContains, formatCIDR, ipBatch, ipJson, parseCIDR, type CIDR } from '@tscni/net/host';
import type { Lease } from '../lease';
import type { NetworkConfig } from '../network';
import type { ExternalIface } from '../iface';
import type { Backend, SyncResult } from './backend';

export class HostGwBackend implements Backend {
  readonly type = 'host-gw' as const;

  constructor(
    private readonly cfg: NetworkConfig,
    private readonly ext: ExternalIface,
  ) {}

  async init() {
    return { data: null, mtu: this.ext.mtu };
  }

  async setLocalSubnet(_subnet: CIDR) {}

  async sync(peers: Lease[]): Promise<SyncResult> {
    const refused: SyncResult['refused'] = [];
    const want = new Map<string, string>();
    for (const p of peers.filter((l) => l.attrs.BackendType === 'host-gw')) {
      const reason = await this.notOnLink(p.attrs.PublicIP);
      if (reason) refused.push({ subnet: formatCIDR(p.subnet), publicIP: p.attrs.PublicIP, reason });
      else want.set(formatCIDR(p.subnet), p.attrs.PublicIP);
    }
    const routes = await ipJson<{ dst: string; gateway?: string }[]>(['-4', 'route', 'show', 'dev', this.ext.name]);
    const cmds: (string | number)[][] = [];
    const changes: string[] = [];
    for (const r of routes) {
      const c = parseCIDR(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
      if (r.gateway && c && cidrContains(this.cfg.network, c.ip) && want.get(formatCIDR(c)) !== r.gateway) {
        cmds.push(['route', 'del', formatCIDR(c), 'via', r.gateway, 'dev', this.ext.name]);
        changes.push(`route del ${formatCIDR(c)} via ${r.gateway}`);
      }
    }
    for (const [dst, gw] of want) {
      if (!routes.some((r) => r.dst === dst && r.gateway === gw)) {
        cmds.push(['route', 'replace', dst, 'via', gw, 'dev', this.ext.name]);
        changes.push(`route replace ${dst} via ${gw} dev ${this.ext.name}`);
      }
    }
    await ipBatch(cmds, undefined, { force: true });
    return { programmed: want.size, refused, changes };
  }

  async teardown() {
    await this.sync([]);
  }

  /** Why `ip` cannot be a next hop on the external interface, or undefined when it can. */
  private async notOnLink(ip: string): Promise<string | undefined> {
    let r: { dev?: string; gateway?: string }[];
    try {
      r = await ipJson(['-4', 'route', 'get', ip]);
    } catch (err) {
      return `host-gw needs every node on one L2 segment, but ${ip} is not reachable from this node at all (${(err as Error).message.split(': ').pop()?.trim()})`;
    }
    if (r[0]?.gateway) return `host-gw needs every node on one L2 segment, but ${ip} is reached through the gateway ${r[0].gateway}`;
    if (r[0]?.dev !== this.ext.name) return `host-gw needs every node on one L2 segment, but ${ip} is reached through ${r[0]?.dev ?? 'no interface'}, not ${this.ext.name}`;
    return undefined;
  }
}
