import { ipText } from './addr-json';
import { attrs, get32, u32 } from './message';
import { word } from './text';

/**
 * What `ip -j [-d] route get ADDR` prints of the kernel's answer, as iproute2 6.1's print_route does (ip/iproute.c),
 * for the attributes a lookup answers with. Undefined when the answer has something not rendered here (a multipath
 * or encapsulated route, metrics, a realm, a named table, protocol or scope from /etc/iproute2, a TOS): `ip` then
 * runs it.
 */

const RTA = {
  DST: 1,
  SRC: 2,
  IIF: 3,
  OIF: 4,
  GATEWAY: 5,
  PRIORITY: 6,
  PREFSRC: 7,
  METRICS: 8,
  MULTIPATH: 9,
  FLOW: 11,
  CACHEINFO: 12,
  TABLE: 15,
  MARK: 16,
  VIA: 18,
  NEWDST: 19,
  PREF: 20,
  ENCAP: 22,
  UID: 25,
  TTL_PROPAGATE: 26,
  NH_ID: 30,
} as const;
/** Printed by print_route in ways not rendered here. */
const NOT_RENDERED = [
  RTA.METRICS,
  RTA.MULTIPATH,
  RTA.FLOW,
  RTA.VIA,
  RTA.NEWDST,
  RTA.ENCAP,
  RTA.TTL_PROPAGATE,
  RTA.NH_ID,
];

const AF_INET = 2;
const AF_INET6 = 10;
const RTN_UNICAST = 1;
const RTN_MULTICAST = 5;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RTM_F_CLONED = 0x200;
/** USER_HZ, which iproute2's get_user_hz reads (sysconf(_SC_CLK_TCK)). */
const HZ = 100;

const TYPES = [
  'none',
  'unicast',
  'local',
  'broadcast',
  'anycast',
  'multicast',
  'blackhole',
  'unreachable',
  'prohibit',
  'throw',
  'nat',
  'xresolve',
];
/** Names iproute2 has built in (more would come from /etc/iproute2: not rendered here). */
const TABLES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };
const PROTOCOLS: Record<number, string> = {
  0: 'unspec',
  1: 'redirect',
  2: 'kernel',
  3: 'boot',
  4: 'static',
  8: 'gated',
  9: 'ra',
  10: 'mrt',
  11: 'zebra',
  12: 'bird',
  13: 'dnrouted',
  14: 'xorp',
  15: 'ntk',
  16: 'dhcp',
  18: 'keepalived',
  42: 'babel',
  186: 'bgp',
  187: 'isis',
  188: 'ospf',
  189: 'rip',
  192: 'eigrp',
};
const SCOPES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };
/** print_rt_flags, in its order. */
const RT_FLAGS: [number, string][] = [
  [0x1, 'dead'],
  [0x4, 'onlink'],
  [0x2, 'pervasive'],
  [0x8, 'offload'],
  [0x40, 'trap'],
  [0x100, 'notify'],
  [0x10, 'linkdown'],
  [0x20, 'unresolved'],
  [0x2000, 'rt_offload'],
  [0x4000, 'rt_trap'],
  [0x20000000, 'rt_offload_failed'],
];
/** print_cache_flags (RTCF_*), in its order. */
const CACHE_FLAGS: [number, string][] = [
  [0x80000000, 'local'],
  [0x40000000, 'reject'],
  [0x20000000, 'mc'],
  [0x10000000, 'brd'],
  [0x08000000, 'dst-nat'],
  [0x00800000, 'src-nat'],
  [0x00400000, 'masq'],
  [0x00020000, 'dst-direct'],
  [0x04000000, 'src-direct'],
  [0x00040000, 'redirected'],
  [0x01000000, 'redirect'],
  [0x00200000, 'fastroute'],
  [0x00010000, 'notify'],
  [0x00080000, 'proxy'],
];
const PREFS: Record<number, string> = { 0: 'medium', 1: 'high', 3: 'low' };

/** ifindex → name in the namespace; undefined: no such link. */
export type IndexName = (index: number) => string | undefined;

/** `%#llx`. */
function hex32(v: number): string {
  if (!v) return '0';
  return `0x${v > 0xffff ? word(Math.floor(v / 0x10000)) + word4(v & 0xffff) : word(v)}`;
}
const word4 = (w: number): string => {
  const s = word(w);
  return '0000'.slice(s.length) + s;
};

/** An address with its length: the bare address when it is the family's full length, else `A/LEN`. */
function prefixText(family: number, b: Uint8Array, len: number): string | undefined {
  const text = ipText(family, b);
  if (text === undefined) return undefined;
  return len === (family === AF_INET ? 32 : 128) ? text : `${text}/${len}`;
}

/** The route object of an RTM_NEWROUTE (rtmsg and attributes), or undefined when not rendered exactly. */
export function routeJson(body: Uint8Array, details: boolean, name: IndexName): Record<string, unknown> | undefined {
  if (body.length < 12) return undefined;
  const family = body[0];
  const [dstLen, srcLen, tos, rtmTable, protocol, scope, type] = [
    body[1],
    body[2],
    body[3],
    body[4],
    body[5],
    body[6],
    body[7],
  ];
  const flags = get32(body, 8) >>> 0;
  if ((family !== AF_INET && family !== AF_INET6) || tos || type === RTN_MULTICAST || type >= TYPES.length)
    return undefined;
  const a = attrs(body, 12);
  for (let i = 0; i < NOT_RENDERED.length; i++) if (a.has(NOT_RENDERED[i])) return undefined;
  const o: Record<string, unknown> = {};
  if (type !== RTN_UNICAST || details) o.type = TYPES[type];
  const dst = a.get(RTA.DST);
  if (dst) {
    const text = prefixText(family, dst, dstLen);
    if (text === undefined) return undefined;
    o.dst = text;
  } else o.dst = dstLen ? `0/${dstLen} ` : 'default';
  const src = a.get(RTA.SRC);
  if (src) {
    const text = prefixText(family, src, srcLen);
    if (text === undefined) return undefined;
    o.from = text;
  } else if (srcLen) o.src = `0/${srcLen}`;
  const gw = a.get(RTA.GATEWAY);
  if (gw) {
    const text = ipText(family, gw);
    if (text === undefined) return undefined;
    o.gateway = text;
  }
  const oif = u32(a.get(RTA.OIF));
  if (oif !== undefined) {
    const dev = name(oif);
    if (dev === undefined) return undefined;
    o.dev = dev;
  }
  const table = u32(a.get(RTA.TABLE)) ?? rtmTable;
  if (table && (table !== RT_TABLE_MAIN || details)) {
    if (!TABLES[table]) return undefined;
    o.table = TABLES[table];
  }
  if (!(flags & RTM_F_CLONED)) {
    if (protocol !== RTPROT_BOOT || details) {
      if (!PROTOCOLS[protocol]) return undefined;
      o.protocol = PROTOCOLS[protocol];
    }
    if (scope !== 0 || details) {
      if (!SCOPES[scope]) return undefined;
      o.scope = SCOPES[scope];
    }
  }
  const prefsrc = a.get(RTA.PREFSRC);
  if (prefsrc) {
    const text = ipText(family, prefsrc);
    if (text === undefined) return undefined;
    o.prefsrc = text;
  }
  const metric = u32(a.get(RTA.PRIORITY));
  if (metric !== undefined) o.metric = metric;
  const names: string[] = [];
  for (let i = 0; i < RT_FLAGS.length; i++) if (flags & RT_FLAGS[i][0]) names.push(RT_FLAGS[i][1]);
  o.flags = names;
  const mark = u32(a.get(RTA.MARK));
  if (mark) o.mark = mark;
  const uid = u32(a.get(RTA.UID));
  if (uid !== undefined) o.uid = uid;
  if (family === AF_INET && flags & RTM_F_CLONED) {
    let rest = flags & 0xffff0000;
    const cache: string[] = [];
    for (let i = 0; i < CACHE_FLAGS.length; i++)
      if (rest & CACHE_FLAGS[i][0]) {
        rest = (rest & ~CACHE_FLAGS[i][0]) >>> 0;
        cache.push(CACHE_FLAGS[i][1]);
      }
    if (rest) return undefined; // printed as a "flags" member inside the array: not valid JSON to mirror
    o.cache = cache;
  }
  const ci = a.get(RTA.CACHEINFO);
  if (ci) {
    if (ci.length < 32) return undefined;
    // struct rta_cacheinfo: clntref, lastuse, expires (signed), error, used, id, ts, tsage; -s only: users, used, age.
    const expires = get32(ci, 8);
    if (expires) o.expires = Math.trunc(expires / HZ);
    const error = get32(ci, 12) >>> 0;
    if (error) o.error = error;
    const id = get32(ci, 20) >>> 0;
    if (id) o.ipid = hex32(id);
    const ts = get32(ci, 24) >>> 0;
    const tsage = get32(ci, 28) >>> 0;
    if (ts || tsage) {
      o.ts = hex32(ts);
      o.tsage = tsage;
    }
  }
  const iif = u32(a.get(RTA.IIF));
  if (iif !== undefined) {
    const dev = name(iif);
    if (dev === undefined) return undefined;
    o.iif = dev;
  }
  const pref = a.get(RTA.PREF);
  if (pref && pref.length >= 1) o.pref = PREFS[pref[0]] ?? pref[0];
  return o;
}
