import type { IP } from '@tscni/net/host';
import { addToIP, formatIP, ipEqual } from '@tscni/net/host/ipaddr';
import { formatRangeSet, rangeContains, rangeSetContains, rangeSetFor, type IPRange, type RangeSet } from './ip-range';
import type { IPConfig } from '@tscni/cni';
import type { Lease, LeaseStore } from './store';

/**
 * One address from one range set, the reference's way: a requested address if one falls in the set,
 * else round-robin starting after `last_reserved_ip.<rangeID>`, wrapping around, never the gateway.
 * Called with the store locked; `leases` is the directory as it was when the lock was taken, plus what
 * this invocation reserved so far.
 */
export class RangeSetAllocator {
  constructor(
    private readonly set: RangeSet,
    private readonly rangeID: number,
    private readonly store: LeaseStore,
    private readonly leases: Map<string, Lease>,
  ) {}

  /** Reserve one address; returns its result entry and the lease written for it. */
  get(containerID: string, owner: string, requested?: IP): { ipConfig: IPConfig; lease: Lease } {
    const reserved = requested ? this.reserveRequested(requested, owner) : this.reserveNext(containerID, owner);
    const ipConfig = {
      address: `${formatIP(reserved.ip)}/${reserved.range.subnet.prefix}`,
      gateway: formatIP(reserved.range.gateway),
    };
    return { ipConfig, lease: this.leases.get(formatIP(reserved.ip))! };
  }

  private reserveRequested(ip: IP, owner: string): { ip: IP; range: IPRange } {
    const range = rangeSetFor(this.set, ip);
    if (!range) throw new Error(`${formatIP(ip)} not in range set ${formatRangeSet(this.set)}`);
    if (ipEqual(ip, range.gateway)) throw new Error(`requested ip ${formatIP(ip)} is subnet's gateway`);
    if (!this.tryReserve(ip, owner))
      throw new Error(`requested IP address ${formatIP(ip)} is not available in range set ${formatRangeSet(this.set)}`);
    return { ip, range };
  }

  private reserveNext(containerID: string, owner: string): { ip: IP; range: IPRange } {
    for (const lease of this.leases.values()) {
      if ((lease.owner === owner || lease.owner === containerID.trim()) && rangeSetContains(this.set, lease.ip)) {
        throw new Error(`${lease.file} has been allocated to ${containerID}, duplicate allocation is not allowed`);
      }
    }
    for (const candidate of candidates(this.set, this.store.lastReserved(this.rangeID))) {
      if (this.tryReserve(candidate.ip, owner)) return candidate;
    }
    throw new Error(`no IP addresses available in range set: ${formatRangeSet(this.set)}`);
  }

  private tryReserve(ip: IP, owner: string): boolean {
    const file = formatIP(ip);
    if (this.leases.has(file)) return false;
    if (!this.store.reserve(ip, owner, this.rangeID)) return false;
    this.leases.set(file, { ip, file, owner });
    return true;
  }
}

/**
 * Every address of the set once, in the reference's round-robin order: from the address after `last`
 * when the set contains it (else from the first range's start), range by range, wrapping around.
 */
export function* candidates(set: RangeSet, last?: IP): Generator<{ ip: IP; range: IPRange }> {
  let idx = last ? set.findIndex((r) => rangeContains(r, last)) : -1;
  let cur: IP | undefined = idx >= 0 ? last : undefined;
  if (idx < 0) idx = 0;
  let start: IP | undefined;
  for (;;) {
    let range = set[idx];
    if (cur === undefined) cur = range.rangeStart;
    else if (cur.value === range.rangeEnd.value) {
      idx = (idx + 1) % set.length;
      range = set[idx];
      cur = range.rangeStart;
    } else cur = addToIP(cur, 1n);
    if (start === undefined) start = cur;
    else if (ipEqual(cur, start)) return;
    if (!ipEqual(cur, range.gateway)) yield { ip: cur, range };
  }
}
