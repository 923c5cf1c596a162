/** Address ranges for nftables interval sets: a union of addresses and CIDRs minus exceptions, merged, per family. */
import { formatIP, mustCIDR, networkOf, lastOf, parseIP } from '@tscni/net/host';

type Range = [bigint, bigint];
export type Family = 4 | 6;

function cidrRange(text: string, family: Family): Range | undefined {
  const c = mustCIDR(text, 'cidr');
  if (c.ip.family !== family) return undefined;
  return [networkOf(c).ip.value, lastOf(c).value];
}

function subtract(ranges: Range[], cut: Range): Range[] {
  const out: Range[] = [];
  for (const [a, b] of ranges) {
    if (cut[1] < a || cut[0] > b) out.push([a, b]);
    else {
      if (cut[0] > a) out.push([a, cut[0] - 1n]);
      if (cut[1] < b) out.push([cut[1] + 1n, b]);
    }
  }
  return out;
}

function merge(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1n) last[1] = r[1] > last[1] ? r[1] : last[1];
    else out.push([r[0], r[1]]);
  }
  return out;
}

/**
 * The nft set elements of one family (`10.0.0.1`, `10.0.0.0-10.0.0.255`, `fd00::-fd00::ff`) covering
 * the given addresses and ipBlocks; entries of the other family are left out. Sorted and
 * non-overlapping, so the same input always gives the same elements and a change is an exact
 * element delete/add.
 */
export function setElements(ips: string[], blocks: { cidr: string; except: string[] }[], family: Family = 4): string[] {
  const ranges: Range[] = [];
  for (const ip of ips) {
    const a = parseIP(ip);
    if (a?.family === family) ranges.push([a.value, a.value]);
  }
  for (const b of blocks) {
    const r = cidrRange(b.cidr, family);
    if (!r) continue;
    let parts: Range[] = [r];
    for (const e of b.except) {
      const cut = cidrRange(e, family);
      if (cut) parts = subtract(parts, cut);
    }
    ranges.push(...parts);
  }
  const fmt = (v: bigint) => formatIP({ family, value: v });
  return merge(ranges).map(([a, b]) => (a === b ? fmt(a) : `${fmt(a)}-${fmt(b)}`));
}
