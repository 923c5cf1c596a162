/**
 * One of flannel's VXLAN devices: `flannel.<VNI>` (IPv4) or `flannel-v6.<VNI>` (IPv6), local = this node's
 * interface address of that family, the config's port, no learning, holding the subnet's first address
 * as a host address. For each peer routed through it: the peer's subnet via the peer's first address
 * `onlink`, that address resolving to the peer's VtepMAC (permanent neighbour) and frames for the MAC sent
 * to the peer's public IP (permanent FDB entry). A sync reads the device's routes, neighbours and FDB and
 * writes only the difference, so restarts and missed events heal.
 */
import {
  CommandError,
  cidrContains,
  formatCIDR,
  formatIP,
  ipBatch,
  ipJson,
  isNotFound,
  jsonArray,
  parseCIDR,
  parseIP,
  run,
  token,
  type CIDR,
} from '@tscni/net/host';

interface LinkDetail {
  address: string;
  mtu: number;
  linkinfo?: {
    info_kind: string;
    info_data?: { id?: number; local?: string; local6?: string; port?: number; link?: string; learning?: boolean };
  };
}

/** A peer as this device routes it. */
export interface VtepPeer {
  subnet: CIDR;
  mac: string;
  publicIp: string;
}

export interface DeviceSpec {
  family: 4 | 6;
  name: string;
  vni: number;
  port: number;
  /** The external interface and this node's address on it (the tunnel's local end). */
  extName: string;
  local: string;
  mtu: number;
  /** The cluster network of this family: routes and neighbours inside it that no peer explains are removed. */
  network: CIDR;
}

export const vtepIp = (subnet: CIDR): string => formatIP(subnet.ip);

export class VxlanDevice {
  constructor(readonly spec: DeviceSpec) {}

  /** Create the device, or keep one with the right settings (its MAC, in the peers' FDBs, stays); returns its MAC. */
  async init(): Promise<string> {
    const s = this.spec;
    const existing = await this.link();
    const d = existing?.linkinfo?.info_data;
    const local = s.family === 4 ? d?.local : d?.local6;
    const fits =
      existing?.linkinfo?.info_kind === 'vxlan' &&
      d?.id === s.vni &&
      local === s.local &&
      d?.port === s.port &&
      d?.learning !== true;
    const cmds: (string | number)[][] = [];
    if (existing && !fits) cmds.push(['link', 'del', s.name]);
    if (!fits)
      cmds.push([
        'link',
        'add',
        s.name,
        'type',
        'vxlan',
        'id',
        s.vni,
        'local',
        s.local,
        'dev',
        s.extName,
        'nolearning',
        'dstport',
        s.port,
      ]);
    cmds.push(['link', 'set', s.name, 'mtu', s.mtu], ['link', 'set', s.name, 'up']);
    await ipBatch(cmds);
    return (await this.link())!.address;
  }

  /** Give the device this node's subnet's first address as a /32 (/128), and no other address of the family. */
  async setLocalSubnet(subnet: CIDR): Promise<void> {
    const s = this.spec;
    const want = `${vtepIp(subnet)}/${s.family === 4 ? 32 : 128}`;
    const fam = s.family === 4 ? 'inet' : 'inet6';
    const addrs = await ipJson<{ addr_info: { family: string; local: string; prefixlen: number; scope: string }[] }[]>([
      `-${s.family}`,
      'addr',
      'show',
      'dev',
      s.name,
    ]);
    const have = (addrs[0]?.addr_info ?? [])
      .filter((a) => a.family === fam && a.scope === 'global')
      .map((a) => `${a.local}/${a.prefixlen}`);
    const cmds = have.filter((a) => a !== want).map((a) => ['addr', 'del', a, 'dev', s.name]);
    if (!have.includes(want)) cmds.push(['addr', 'add', want, 'dev', s.name, ...(s.family === 6 ? ['nodad'] : [])]);
    await ipBatch(cmds);
  }

  /** Bring routes, neighbours and FDB entries in step with `peers`; returns one line per change made. */
  async sync(peers: VtepPeer[]): Promise<string[]> {
    const s = this.spec;
    const f = `-${s.family}`;
    const want = new Map(peers.map((p) => [formatCIDR(p.subnet), p]));
    const [routes, neighs, fdb] = await Promise.all([
      ipJson<{ dst: string; gateway?: string; flags?: string[] }[]>([f, 'route', 'show', 'dev', s.name]),
      ipJson<{ dst: string; lladdr?: string; state?: string[] }[]>([f, 'neigh', 'show', 'dev', s.name]),
      this.fdb(),
    ]);
    const ip: (string | number)[][] = [];
    const br: string[][] = [];
    const changes: string[] = [];
    const host = s.family === 4 ? 32 : 128;
    const inNet = (text: string) => {
      const a = parseIP(text);
      return !!a && a.family === s.family && cidrContains(s.network, a);
    };
    // Only routes with a next hop are ours: the kernel's own (an IPv6 address's prefix route) stay.
    const haveRoute = new Map(routes.filter((r) => r.gateway).map((r) => [canonical(r.dst, host), r]));
    for (const [dst, r] of haveRoute) {
      if (inNet(dst.split('/')[0]) && !want.has(dst)) {
        ip.push(['route', 'del', dst, 'dev', s.name]);
        changes.push(`route del ${dst} via ${r.gateway}`);
      }
    }
    const wantNeigh = new Map(peers.map((p) => [vtepIp(p.subnet), p.mac]));
    for (const n of neighs) {
      if (!wantNeigh.has(n.dst) && inNet(n.dst)) {
        ip.push(['neigh', 'del', n.dst, 'dev', s.name]);
        changes.push(`neigh del ${n.dst}`);
      }
    }
    const wantFdb = new Map(peers.map((p) => [p.mac, p.publicIp]));
    for (const e of fdb) {
      if (wantFdb.get(e.mac) !== e.dst) {
        br.push(['fdb', 'del', e.mac, 'dev', s.name, 'dst', e.dst, 'self']);
        changes.push(`fdb del ${e.mac} dst ${e.dst}`);
      }
    }
    for (const [dst, p] of want) {
      const gw = vtepIp(p.subnet);
      const r = haveRoute.get(dst);
      if (!r || r.gateway !== gw || !(r.flags ?? []).includes('onlink')) {
        ip.push(['route', 'replace', dst, 'via', gw, 'dev', s.name, 'onlink']);
        changes.push(`route replace ${dst} via ${gw} dev ${s.name} onlink`);
      }
      const n = neighs.find((x) => x.dst === gw);
      if (!n || n.lladdr !== p.mac || !(n.state ?? []).includes('PERMANENT')) {
        ip.push(['neigh', 'replace', gw, 'lladdr', p.mac, 'dev', s.name, 'nud', 'permanent']);
        changes.push(`neigh replace ${gw} lladdr ${p.mac}`);
      }
      if (!fdb.some((e) => e.mac === p.mac && e.dst === p.publicIp)) {
        br.push(['fdb', 'append', p.mac, 'dev', s.name, 'dst', p.publicIp, 'self', 'permanent']);
        changes.push(`fdb append ${p.mac} dst ${p.publicIp}`);
      }
    }
    // FDB entries first (so a new route's first packet has somewhere to go), then routes and neighbours.
    if (br.length)
      await run('bridge', ['-force', '-batch', '-'], {
        input: br.map((c) => c.map((t) => token(t)).join(' ')).join('\n') + '\n',
      });
    if (ip.length) await ipBatch(ip, undefined, { force: true });
    return changes;
  }

  async teardown(): Promise<void> {
    await ipBatch([['link', 'del', this.spec.name]]).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
  }

  private async link(): Promise<LinkDetail | undefined> {
    try {
      return (await ipJson<LinkDetail[]>(['-d', 'link', 'show', 'dev', this.spec.name]))[0];
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async fdb(): Promise<{ mac: string; dst: string }[]> {
    try {
      const { stdout } = await run('bridge', ['-j', 'fdb', 'show', 'dev', this.spec.name]);
      const entries = jsonArray<{ mac: string; dst?: string }>(stdout);
      return entries
        .filter((e): e is { mac: string; dst: string } => !!e.dst)
        .map((e) => ({ mac: e.mac.toLowerCase(), dst: e.dst }));
    } catch (err) {
      if (err instanceof CommandError && isNotFound(err)) return [];
      throw err;
    }
  }
}

/** A route's destination as `formatCIDR` writes it (`ip` leaves a host route's length out). */
export function canonical(dst: string, hostLen: number): string {
  const c = parseCIDR(dst.includes('/') ? dst : `${dst}/${hostLen}`);
  return c ? formatCIDR(c) : dst;
}
