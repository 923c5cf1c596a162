import { describe, expect, it } from 'vitest';
import { formatIP, parseIP } from '@tscni/net/host';
import { canonicalizeRangeSet, type RangeConf } from '../src/ip-range';
import { candidates } from '../src/allocator';

// The round-robin order, without processes: every address once, after last_reserved_ip, wrapping, no gateway.
const order = (set: RangeConf[], last?: string) =>
  [...candidates(canonicalizeRangeSet(set), last ? parseIP(last) : undefined)].map((c) => formatIP(c.ip));

describe('host-local round-robin order', () => {
  it('starts at rangeStart and skips the gateway', () => {
    expect(order([{ subnet: '10.0.0.0/29' }])).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
  });
  it('continues after the last reserved address and wraps through every range of the set', () => {
    const set = [{ subnet: '10.0.0.0/30' }, { subnet: '10.0.1.0/29', rangeStart: '10.0.1.4' }];
    expect(order(set, '10.0.1.5')).toEqual(['10.0.1.6', '10.0.0.2', '10.0.1.4', '10.0.1.5']);
  });
  it('ignores a last reserved address outside the set', () => {
    expect(order([{ subnet: '10.0.0.0/30' }], '192.168.0.1')).toEqual(['10.0.0.2']);
    expect(order([{ subnet: '10.0.0.0/30' }], 'fd00::1')).toEqual(['10.0.0.2']);
  });
  it('a range holding only its gateway yields nothing', () => {
    expect(order([{ subnet: '10.0.0.0/29', rangeStart: '10.0.0.1', rangeEnd: '10.0.0.1' }])).toEqual([]);
    expect(order([{ subnet: '10.0.0.0/29', rangeStart: '10.0.0.1', rangeEnd: '10.0.0.1' }], '10.0.0.1')).toEqual([]);
  });
  it('works for IPv6', () => {
    expect(order([{ subnet: 'fd00::/126' }], 'fd00::2')).toEqual(['fd00::3', 'fd00::2']);
  });
});
