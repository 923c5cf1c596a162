import { attrs, get16, get32, i32, u32, u8, type Attrs } from './message';
import { bridgeInfoData } from './bridge-json';
import { bridgeSlaveInfoData } from './bridge-slave-json';
import { ascii, macText } from './text';

/** What `ip -j [-d] link show` prints of one link, from its RTM_NEWLINK, for the fields below; undefined: not sure. */

export const IFLA = {
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  QDISC: 6,
  MASTER: 10,
  TXQLEN: 13,
  OPERSTATE: 16,
  LINKMODE: 17,
  LINKINFO: 18,
  IFALIAS: 20,
  GROUP: 27,
  NET_NS_FD: 28,
  PROMISCUITY: 30,
  LINK_NETNSID: 37,
  MIN_MTU: 50,
  MAX_MTU: 51,
  ALLMULTI: 61,
} as const;
export const INFO = { KIND: 1, DATA: 2, SLAVE_KIND: 4, SLAVE_DATA: 5 } as const;

/** ifinfomsg: family, type, index, flags, change (16 bytes). */
export interface LinkMsg {
  type: number;
  index: number;
  flags: number;
  attrs: Attrs;
}

export function linkMsg(body: Uint8Array): LinkMsg {
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return {
    type: v.getUint16(2, true),
    index: v.getInt32(4, true),
    flags: v.getUint32(8, true),
    attrs: attrs(body, 16),
  };
}

const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;
const IFF_POINTOPOINT = 0x10;
/** iproute2's order (print_link_flags). */
const FLAG_NAMES: [string, number][] = [
  ['LOOPBACK', 0x8],
  ['BROADCAST', 0x2],
  ['POINTOPOINT', 0x10],
  ['MULTICAST', 0x1000],
  ['NOARP', 0x80],
  ['ALLMULTI', 0x200],
  ['PROMISC', 0x100],
  ['MASTER', 0x400],
  ['SLAVE', 0x800],
  ['DEBUG', 0x4],
  ['DYNAMIC', 0x8000],
  ['AUTOMEDIA', 0x4000],
  ['PORTSEL', 0x2000],
  ['NOTRAILERS', 0x20],
  ['UP', 0x1],
  ['LOWER_UP', 0x10000],
  ['DORMANT', 0x20000],
  ['ECHO', 0x40000],
];
/** Every bit above, and IFF_RUNNING (shown as the absence of NO-CARRIER). */
const KNOWN_FLAGS = 0x7ffff;
const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'];
const LINKMODES = ['DEFAULT', 'DORMANT', 'TESTING'];
/** ARPHRD types whose link-layer address iproute2 prints as hex bytes. */
const LINK_TYPES: Record<number, string> = { 1: 'ether', 772: 'loopback' };

/** ifindex → name and flags of the namespace's other links (`master`, `link`, M-DOWN); undefined: no such link. */
export type Resolve = (index: number) => { name: string; flags: number } | undefined;

export function flagNames(flags: number, mdown: boolean): string[] | undefined {
  if (flags & ~KNOWN_FLAGS) return undefined;
  const out: string[] = [];
  if (flags & IFF_UP && !(flags & IFF_RUNNING)) out.push('NO-CARRIER');
  for (let i = 0; i < FLAG_NAMES.length; i++) if (flags & FLAG_NAMES[i][1]) out.push(FLAG_NAMES[i][0]);
  if (mdown) out.push('M-DOWN');
  return out;
}

/**
 * The `ip -j link show` object (`details`: `-d`), key order as iproute2 6.1 prints them; the fields our callers read
 * and the plain ones around them (not the -d counters such as gso_max_size). Undefined when the link has something
 * this does not render exactly (an unknown link type or flag, a kind's data): the caller then asks `ip`.
 */
export function linkJson(
  m: LinkMsg,
  /** `-d`; `linkShow`: `link show` (it prints linkmode), not `addr show`. */
  opts: { details: boolean; linkShow: boolean },
  resolve: Resolve,
): Record<string, unknown> | undefined {
  const details = opts.details;
  const a = m.attrs;
  const type = LINK_TYPES[m.type];
  if (!type) return undefined;
  const o: Record<string, unknown> = { ifindex: m.index };
  const iflink = u32(a.get(IFLA.LINK));
  const netnsid = i32(a.get(IFLA.LINK_NETNSID));
  let mdown = false;
  if (iflink !== undefined) {
    if (netnsid !== undefined) o.link_index = iflink;
    else {
      const peer = resolve(iflink);
      if (!peer) return undefined;
      o.link = peer.name;
      mdown = !(peer.flags & IFF_UP);
    }
  }
  o.ifname = ascii(a.get(IFLA.IFNAME));
  if (o.ifname === undefined) return undefined;
  const flags = flagNames(m.flags, mdown);
  if (!flags) return undefined;
  o.flags = flags;
  o.mtu = u32(a.get(IFLA.MTU));
  if (a.has(IFLA.QDISC)) o.qdisc = ascii(a.get(IFLA.QDISC));
  const master = u32(a.get(IFLA.MASTER));
  if (master !== undefined) {
    const m2 = resolve(master);
    if (!m2) return undefined;
    o.master = m2.name;
  }
  if (a.has(IFLA.OPERSTATE)) o.operstate = OPERSTATES[u8(a.get(IFLA.OPERSTATE))!];
  if (opts.linkShow && a.has(IFLA.LINKMODE)) o.linkmode = LINKMODES[u8(a.get(IFLA.LINKMODE))!];
  if (a.has(IFLA.GROUP)) {
    if (u32(a.get(IFLA.GROUP)) !== 0) return undefined; // a named group: /etc/iproute2/group
    o.group = 'default';
  }
  // print_queuelen: a length of 0 is not printed.
  if (u32(a.get(IFLA.TXQLEN))) o.txqlen = u32(a.get(IFLA.TXQLEN));
  o.link_type = type;
  if (a.has(IFLA.ADDRESS)) o.address = macText(a.get(IFLA.ADDRESS)!);
  if (a.has(IFLA.BROADCAST)) {
    if (m.flags & IFF_POINTOPOINT) return undefined;
    o.broadcast = macText(a.get(IFLA.BROADCAST)!);
  }
  if (netnsid !== undefined) o.link_netnsid = netnsid;
  if (details) {
    if (a.has(IFLA.PROMISCUITY)) o.promiscuity = u32(a.get(IFLA.PROMISCUITY));
    if (a.has(IFLA.ALLMULTI)) o.allmulti = u32(a.get(IFLA.ALLMULTI));
    if (a.has(IFLA.MIN_MTU)) o.min_mtu = u32(a.get(IFLA.MIN_MTU));
    if (a.has(IFLA.MAX_MTU)) o.max_mtu = u32(a.get(IFLA.MAX_MTU));
    const info = a.get(IFLA.LINKINFO);
    if (info) {
      const linkinfo = linkInfoJson(attrs(info), resolve);
      if (!linkinfo) return undefined;
      o.linkinfo = linkinfo;
    }
  }
  if (a.has(IFLA.IFALIAS)) return undefined;
  return o;
}

/** Kinds iproute2 6.1 has no printer for (no link_util print_opt): it prints their `info_kind` alone. */
const withoutData = (kind: string): boolean => kind === 'veth' || kind === 'ifb';

/**
 * `linkinfo` as iproute2's print_linktype prints it: `info_kind` with the kind's `info_data`, then `info_slave_kind`
 * with the port kind's `info_slave_data`. Rendered for a bridge (./bridge-json), a veth or an IFB (nothing of
 * theirs), and a bridge's port (./bridge-slave-json); any other kind or port kind is ip's (undefined).
 */
function linkInfoJson(li: Attrs, resolve: Resolve): Record<string, unknown> | undefined {
  const o: Record<string, unknown> = {};
  if (li.has(INFO.KIND)) {
    const kind = ascii(li.get(INFO.KIND));
    if (kind === undefined) return undefined;
    o.info_kind = kind;
    if (kind === 'bridge') {
      const data = li.get(INFO.DATA);
      const infoData = data ? bridgeInfoData(data) : {};
      if (!infoData) return undefined;
      o.info_data = infoData;
    } else if (!withoutData(kind) || li.has(INFO.DATA)) return undefined;
  } else if (li.has(INFO.DATA)) return undefined;
  if (li.has(INFO.SLAVE_KIND)) {
    const kind = ascii(li.get(INFO.SLAVE_KIND));
    if (kind !== 'bridge') return undefined;
    o.info_slave_kind = kind;
    const data = li.get(INFO.SLAVE_DATA);
    const slaveData = data ? bridgeSlaveInfoData(data, (i) => resolve(i)?.name) : {};
    if (!slaveData) return undefined;
    o.info_slave_data = slaveData;
  } else if (li.has(INFO.SLAVE_DATA)) return undefined;
  return o;
}
