import { attrs, get32, u32, type Attrs } from './message';
import { ascii, word } from './text';

/** One address from RTM_NEWADDR: ifaddrmsg (family, prefixlen, flags, scope, index) and attributes. */
export interface AddrMsg {
  family: number;
  prefixlen: number;
  flags: number;
  scope: number;
  index: number;
  attrs: Attrs;
}

export const IFA = { ADDRESS: 1, LOCAL: 2, LABEL: 3, BROADCAST: 4, ANYCAST: 5, CACHEINFO: 6, FLAGS: 8, RT_PRIORITY: 9 };
export const AF_INET = 2;
export const AF_INET6 = 10;

export function addrMsg(body: Uint8Array): AddrMsg {
  const a = attrs(body, 8);
  return {
    family: body[0],
    prefixlen: body[1],
    flags: u32(a.get(IFA.FLAGS)) ?? body[2],
    scope: body[3],
    index: get32(body, 4) >>> 0,
    attrs: a,
  };
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const SCOPES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };
/** iproute2 6.1's ifa_flag_data order; `permanent` prints as `dynamic` when absent. */
const ADDR_FLAGS: [string, number, boolean][] = [
  ['secondary', 0x01, false],
  ['nodad', 0x02, true],
  ['optimistic', 0x04, true],
  ['dadfailed', 0x08, true],
  ['home', 0x10, true],
  ['deprecated', 0x20, true],
  ['tentative', 0x40, true],
  ['permanent', 0x80, true],
  ['mngtmpaddr', 0x100, true],
  ['noprefixroute', 0x200, false],
  ['autojoin', 0x400, false],
  ['stable-privacy', 0x800, true],
];

export function ipText(family: number, b: Uint8Array): string | undefined {
  if (family === AF_INET && b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (family !== AF_INET6 || b.length !== 16) return undefined;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[2 * i] << 8) | b[2 * i + 1]);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff)
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  // RFC 5952: the longest run (≥ 2) of zero words becomes `::`, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hexes: string[] = [];
  for (const w of words) hexes.push(word(w));
  if (best < 0) return hexes.join(':');
  return `${hexes.slice(0, best).join(':')}::${hexes.slice(best + bestLen).join(':')}`;
}

/**
 * One `addr_info` entry as `ip -j addr show` prints it; `{}` when `scope` filters it out (iproute2 prints those as
 * empty objects). Undefined when it holds something not rendered here (another family, an unnamed scope, a peer
 * address, anycast, a metric): the caller asks `ip`.
 */
export function addrJson(m: AddrMsg, scope?: number): Record<string, unknown> | undefined {
  const fam = m.family === AF_INET ? 'inet' : m.family === AF_INET6 ? 'inet6' : undefined;
  const scopeName = SCOPES[m.scope];
  if (!fam || !scopeName) return undefined;
  if (scope !== undefined && scope !== m.scope) return {};
  const a = m.attrs;
  const address = a.get(IFA.ADDRESS);
  const localB = a.get(IFA.LOCAL) ?? address;
  if (!localB) return undefined;
  if (address && a.has(IFA.LOCAL) && !sameBytes(address, localB)) return undefined; // a peer
  if (a.has(IFA.ANYCAST) || a.has(IFA.RT_PRIORITY)) return undefined;
  const local = ipText(m.family, localB);
  if (!local) return undefined;
  const o: Record<string, unknown> = { family: fam, local, prefixlen: m.prefixlen };
  const brd = a.get(IFA.BROADCAST);
  if (brd) o.broadcast = ipText(m.family, brd);
  o.scope = scopeName;
  let rest = m.flags;
  for (let i = 0; i < ADDR_FLAGS.length; i++) {
    const name = ADDR_FLAGS[i][0];
    const bit = ADDR_FLAGS[i][1];
    const v6only = ADDR_FLAGS[i][2];
    if (v6only && m.family !== AF_INET6 && bit !== 0x80) {
      rest &= ~bit;
      continue;
    }
    if (bit === 0x80) {
      if (!(m.flags & bit)) o.dynamic = true;
    } else if (m.flags & bit) o[bit === 0x01 && m.family === AF_INET6 ? 'temporary' : name] = true;
    rest &= ~bit;
  }
  if (rest) return undefined;
  if (a.has(IFA.LABEL)) {
    const label = ascii(a.get(IFA.LABEL));
    if (label === undefined) return undefined;
    o.label = label;
  }
  const ci = a.get(IFA.CACHEINFO);
  if (ci && ci.length >= 8) {
    o.valid_life_time = u32(ci.subarray(4));
    o.preferred_life_time = u32(ci);
  }
  return o;
}
