/**
 * flannel's vxlan backend: the `flannel.<VNI>` device, and on a dual-stack network `flannel-v6.<VNI>`
 * beside it (see vxlan-device.ts), each peer routed through the device of each family. With the
 * config's `DirectRouting`, a peer whose public IP is on this node's L2 segment (directly connected
 * through the external interface) is routed via that IP instead, host-gw style, without encapsulation;
 * the others still go through VXLAN.
 */
import { formatCIDR, type CIDR } from '@tscni/net/host';
import type { Lease } from '../lease';
import type { NetworkConfig } from '../network';
import type { ExternalIface } from '../iface';
import type { Backend, SyncResult } from './backend';
import { notOnLink, syncDirectRoutes } from './direct-routes';
import { VxlanDevice, type VtepPeer } from './vxlan-device';

/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
const VXLAN_OVERHEAD = 50;
/** The outer IPv6 header is 20 bytes longer than IPv4's. */
const VXLAN6_OVERHEAD = 70;

export class VxlanBackend implements Backend {
  readonly type = 'vxlan' as const;
  readonly v4: VxlanDevice;
  readonly v6?: VxlanDevice;
  private readonly directRouting: boolean;

  constructor(
    private readonly cfg: NetworkConfig,
    private readonly ext: ExternalIface,
  ) {
    const { vni, port, directRouting } = cfg.backend;
    this.directRouting = directRouting;
    this.v4 = new VxlanDevice({
      family: 4,
      name: `flannel.${vni}`,
      vni,
      port,
      extName: ext.name,
      local: ext.ifaceAddr,
      mtu: ext.mtu - VXLAN_OVERHEAD,
      network: cfg.network,
    });
    if (cfg.ipv6) {
      if (!ext.ifaceAddr6) throw new Error('dual-stack vxlan needs the external interface’s IPv6 address');
      this.v6 = new VxlanDevice({
        family: 6,
        name: `flannel-v6.${vni}`,
        vni,
        port,
        extName: ext.name,
        local: ext.ifaceAddr6,
        mtu: ext.mtu - VXLAN6_OVERHEAD,
        network: cfg.ipv6.network,
      });
    }
  }

  /** The v4 device's name (flannel.<VNI>). */
  get dev(): string {
    return this.v4.spec.name;
  }

  async init() {
    const vni = this.cfg.backend.vni;
    const data = { VNI: vni, VtepMAC: await this.v4.init() };
    const data6 = this.v6 ? { VNI: vni, VtepMAC: await this.v6.init() } : undefined;
    // flanneld's FLANNEL_MTU: the IPv4 device's (IPv6 packets above the v6 device's MTU get "packet too big").
    return { data, data6, mtu: this.v4.spec.mtu };
  }

  async setLocalSubnet(subnet: CIDR, subnet6?: CIDR) {
    await this.v4.setLocalSubnet(subnet);
    if (this.v6 && subnet6) await this.v6.setLocalSubnet(subnet6);
  }

  async sync(peers: Lease[]): Promise<SyncResult> {
    const mine = peers.filter((p) => p.attrs.BackendType === 'vxlan' && p.attrs.BackendData);
    const tunnel: VtepPeer[] = [];
    const tunnel6: VtepPeer[] = [];
    const direct = new Map<string, string>();
    const direct6 = new Map<string, string>();
    for (const p of mine) {
      if (await this.isDirect(p.attrs.PublicIP)) direct.set(formatCIDR(p.subnet), p.attrs.PublicIP);
      else tunnel.push({ subnet: p.subnet, mac: p.attrs.BackendData!.VtepMAC, publicIp: p.attrs.PublicIP });
      const ip6 = p.attrs.PublicIPv6;
      if (!this.v6 || !p.subnet6 || !ip6 || !p.attrs.BackendV6Data) continue;
      if (await this.isDirect(ip6)) direct6.set(formatCIDR(p.subnet6), ip6);
      else tunnel6.push({ subnet: p.subnet6, mac: p.attrs.BackendV6Data.VtepMAC, publicIp: ip6 });
    }
    // Direct routes first when a peer moves off the tunnel, so its subnet is never without a route for long.
    const changes = await syncDirectRoutes(4, this.ext.name, this.cfg.network, direct);
    changes.push(...(await this.v4.sync(tunnel)));
    if (this.v6 && this.cfg.ipv6) {
      changes.push(...(await syncDirectRoutes(6, this.ext.name, this.cfg.ipv6.network, direct6)));
      changes.push(...(await this.v6.sync(tunnel6)));
    }
    return { programmed: mine.length, refused: [], changes };
  }

  async teardown() {
    await syncDirectRoutes(4, this.ext.name, this.cfg.network, new Map());
    await this.v4.teardown();
    if (this.v6 && this.cfg.ipv6) {
      await syncDirectRoutes(6, this.ext.name, this.cfg.ipv6.network, new Map());
      await this.v6.teardown();
    }
  }

  /** DirectRouting applies to this peer address: flannel's test, a route to it without a gateway (on our interface). */
  private async isDirect(ip: string): Promise<boolean> {
    return this.directRouting && (await notOnLink(ip, this.ext.name)) === undefined;
  }
}
