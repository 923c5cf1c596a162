/**
 * flannel's vxlan backend: the `flannel.<VNI>` device (local = this node's interface address, the lease's
 * port, no learning) holding the subnet's .0 as a /32; for each peer, its subnet routed via the peer's
 * .0 `onlink`, that address resolving to the peer's VtepMAC (permanent neighbour) and frames for the MAC
 * sent to the peer's public IP (permanent FDB entry). Every sync reads the device's routes, neighbours
 * and FDB and changes only the difference, so restarts and missed events heal.
 */
import { CommandError, cidrContains, formatCIDR, formatIP, ipBatch, ipJson, isNotFound, jsonArray, parseCIDR, parseIP, run, token, type CIDR } from '@tscni/net';
import type { Lease } from '../lease';
import type { NetworkConfig } from '../network';
import type { ExternalIface } from '../iface';
import type { Backend, SyncResult } from './backend';

/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
const VXLAN_OVERHEAD = 50;

interface LinkDetail {
  address: string;
  mtu: number;
  linkinfo?: { info_kind: string; info_data?: { id?: number; local?: string; port?: number; link?: string; learning?: boolean } };
}

const vtepIp = (subnet: CIDR) => formatIP(subnet.ip);

export class VxlanBackend implements Backend {
  readonly type = 'vxlan' as const;
  readonly dev: string;

  constructor(
    private readonly cfg: NetworkConfig,
    private readonly ext: ExternalIface,
  ) {
    this.dev = `flannel.${cfg.backend.vni}`;
  }

  async init() {
    const mtu = this.ext.mtu - VXLAN_OVERHEAD;
    const existing = await this.link();
    const d = existing?.linkinfo?.info_data;
    const fits = existing?.linkinfo?.info_kind === 'vxlan' && d?.id === this.cfg.backend.vni && d?.local === this.ext.ifaceAddr && d?.port === this.cfg.backend.port && d?.learning !== true;
    const cmds: (string | number)[][] = [];
    if (existing && !fits) cmds.push(['link', 'del', this.dev]);
    if (!fits) cmds.push(['link', 'add', this.dev, 'type', 'vxlan', 'id', this.cfg.backend.vni, 'local', this.ext.ifaceAddr, 'dev', this.ext.name, 'nolearning', 'dstport', this.cfg.backend.port]);
    cmds.push(['link', 'set', this.dev, 'mtu', mtu], ['link', 'set', this.dev, 'up']);
    await ipBatch(cmds);
    const link = (await this.link())!;
    return { data: { VNI: this.cfg.backend.vni, VtepMAC: link.address }, mtu };
  }

  async setLocalSubnet(subnet: CIDR) {
    const want = `${vtepIp(subnet)}/32`;
    const addrs = await ipJson<{ addr_info: { family: string; local: string; prefixlen: number }[] }[]>(['-4', 'addr', 'show', 'dev', this.dev]);
    const have = (addrs[0]?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
    const cmds = have.filter((a) => a !== want).map((a) => ['addr', 'del', a, 'dev', this.dev]);
    if (!have.includes(want)) cmds.push(['addr', 'add', want, 'dev', this.dev]);
    await ipBatch(cmds);
  }

  async sync(peers: Lease[]): Promise<SyncResult> {
    const mine = peers.filter((p) => p.attrs.BackendType === 'vxlan' && p.attrs.BackendData);
    const want = new Map(mine.map((p) => [formatCIDR(p.subnet), p]));
    const [routes, neighs, fdb] = await Promise.all([
      ipJson<{ dst: string; gateway?: string; flags?: string[] }[]>(['-4', 'route', 'show', 'dev', this.dev]),
      ipJson<{ dst: string; lladdr?: string; state?: string[] }[]>(['-4', 'neigh', 'show', 'dev', this.dev]),
      this.fdb(),
    ]);
    const ip: (string | number)[][] = [];
    const br: string[][] = [];
    const changes: string[] = [];
    const haveRoute = new Map(routes.map((r) => [r.dst.includes('/') ? r.dst : `${r.dst}/32`, r]));
    for (const [dst, r] of haveRoute) {
      const c = parseCIDR(dst);
      if (c && cidrContains(this.cfg.network, c.ip) && !want.has(dst)) {
        ip.push(['route', 'del', dst, 'dev', this.dev]);
        changes.push(`route del ${dst} via ${r.gateway ?? '?'}`);
      }
    }
    const wantNeigh = new Map(mine.map((p) => [vtepIp(p.subnet), p.attrs.BackendData!.VtepMAC]));
    for (const n of neighs) {
      if (!wantNeigh.has(n.dst) && parseIP(n.dst) && cidrContains(this.cfg.network, parseIP(n.dst)!)) {
        ip.push(['neigh', 'del', n.dst, 'dev', this.dev]);
        changes.push(`neigh del ${n.dst}`);
      }
    }
    const wantFdb = new Map(mine.map((p) => [p.attrs.BackendData!.VtepMAC, p.attrs.PublicIP]));
    for (const f of fdb) {
      if (wantFdb.get(f.mac) !== f.dst) {
        br.push(['fdb', 'del', f.mac, 'dev', this.dev, 'dst', f.dst, 'self']);
        changes.push(`fdb del ${f.mac} dst ${f.dst}`);
      }
    }
    for (const [dst, p] of want) {
      const gw = vtepIp(p.subnet);
      const mac = p.attrs.BackendData!.VtepMAC;
      const r = haveRoute.get(dst);
      if (!r || r.gateway !== gw || !(r.flags ?? []).includes('onlink')) {
        ip.push(['route', 'replace', dst, 'via', gw, 'dev', this.dev, 'onlink']);
        changes.push(`route replace ${dst} via ${gw} dev ${this.dev} onlink`);
      }
      const n = neighs.find((x) => x.dst === gw);
      if (!n || n.lladdr !== mac || !(n.state ?? []).includes('PERMANENT')) {
        ip.push(['neigh', 'replace', gw, 'lladdr', mac, 'dev', this.dev, 'nud', 'permanent']);
        changes.push(`neigh replace ${gw} lladdr ${mac}`);
      }
      if (!fdb.some((f) => f.mac === mac && f.dst === p.attrs.PublicIP)) {
        br.push(['fdb', 'append', mac, 'dev', this.dev, 'dst', p.attrs.PublicIP, 'self', 'permanent']);
        changes.push(`fdb append ${mac} dst ${p.attrs.PublicIP}`);
      }
    }
    // FDB entries first (so a new route's first packet has somewhere to go), then routes and neighbours.
    if (br.length) await run('bridge', ['-force', '-batch', '-'], { input: br.map((c) => c.map((t) => token(t)).join(' ')).join('\n') + '\n' });
    if (ip.length) await ipBatch(ip, undefined, { force: true });
    return { programmed: want.size, refused: [], changes };
  }

  async teardown() {
    await ipBatch([['link', 'del', this.dev]]).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
  }

  private async link(): Promise<LinkDetail | undefined> {
    try {
      return (await ipJson<LinkDetail[]>(['-d', 'link', 'show', 'dev', this.dev]))[0];
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async fdb(): Promise<{ mac: string; dst: string }[]> {
    try {
      const { stdout } = await run('bridge', ['-j', 'fdb', 'show', 'dev', this.dev]);
      const entries = jsonArray<{ mac: string; dst?: string }>(stdout);
      return entries.filter((e): e is { mac: string; dst: string } => !!e.dst).map((e) => ({ mac: e.mac.toLowerCase(), dst: e.dst }));
    } catch (err) {
      if (err instanceof CommandError && isNotFound(err)) return [];
      throw err;
    }
  }
}
