/** IPv4/IPv6 addresses as bigints, and CIDR arithmetic, for IPAM and rule building. */
export type Family = 4 | 6;

export interface IP {
  family: Family;
  value: bigint;
}

export interface CIDR {
  ip: IP;
  prefix: number;
}

const bits = (f: Family) => (f === 4 ? 32 : 128);

export function parseIP(text: string): IP | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split('.').map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { family: 4, value: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) };
  }
  if (!text.includes(':') || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let head = text;
  let tailV4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseIP(text.slice(lastColon + 1));
    if (!v4 || v4.family !== 4) return undefined;
    tailV4 = [Number(v4.value >> 16n), Number(v4.value & 0xffffn)];
    head = text.slice(0, lastColon + 1) + (text[lastColon - 1] === ':' ? '' : '0');
    if (head.endsWith(':0')) head = head.slice(0, -2);
  }
  const dbl = head.split('::');
  if (dbl.length > 2) return undefined;
  const left = dbl[0] ? dbl[0].split(':') : [];
  const right = dbl.length === 2 && dbl[1] ? dbl[1].split(':') : [];
  const want = 8 - tailV4.length;
  let groups: string[];
  if (dbl.length === 2) {
    const fill = want - left.length - right.length;
    if (fill < 0) return undefined;
    groups = [...left, ...Array(fill).fill('0'), ...right];
  } else groups = left;
  if (groups.length !== want || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const nums = [...groups.map((g) => parseInt(g, 16)), ...tailV4];
  return { family: 6, value: nums.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n) };
}

export function formatIP(ip: IP): string {
  if (ip.family === 4) return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt((7 - i) * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** `10.0.0.5/24` → ip 10.0.0.5, prefix 24 (host bits kept). */
export function parseCIDR(text: string): CIDR | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > bits(ip.family)) return undefined;
  return { ip, prefix };
}

export const formatCIDR = (c: CIDR): string => `${formatIP(c.ip)}/${c.prefix}`;

const hostMask = (f: Family, prefix: number) => (1n << BigInt(bits(f) - prefix)) - 1n;

export function networkOf(c: CIDR): CIDR {
  return { ip: { family: c.ip.family, value: c.ip.value & ~hostMask(c.ip.family, c.prefix) }, prefix: c.prefix };
}

export const lastOf = (c: CIDR): IP => ({
  family: c.ip.family,
  value: networkOf(c).ip.value | hostMask(c.ip.family, c.prefix),
});

export const hasHostBits = (c: CIDR): boolean => (c.ip.value & hostMask(c.ip.family, c.prefix)) !== 0n;

export function cidrContains(c: CIDR, ip: IP): boolean {
  return c.ip.family === ip.family && (ip.value & ~hostMask(ip.family, c.prefix)) === networkOf(c).ip.value;
}

export const cidrsOverlap = (a: CIDR, b: CIDR): boolean => cidrContains(a, b.ip) || cidrContains(b, a.ip);

export const addToIP = (ip: IP, n: bigint): IP => ({ family: ip.family, value: ip.value + n });

export const ipEqual = (a: IP, b: IP): boolean => a.family === b.family && a.value === b.value;

export const familyOfText = (text: string): Family => (text.includes(':') ? 6 : 4);

/** A full-length prefix for the family: /32 or /128. */
export const hostPrefix = (f: Family): number => bits(f);

/** Parse or throw with the field named (config validation helper). */
export function mustCIDR(text: string, field: string): CIDR {
  const c = parseCIDR(text);
  if (!c) throw new Error(`${field}: invalid CIDR ${JSON.stringify(text)}`);
  return c;
}

export function mustIP(text: string, field: string): IP {
  const ip = parseIP(text);
  if (!ip) throw new Error(`${field}: invalid IP address ${JSON.stringify(text)}`);
  return ip;
}
