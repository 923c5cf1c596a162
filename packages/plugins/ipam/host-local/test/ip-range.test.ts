import { describe, expect, it } from 'vitest';
import { formatIP, parseIP } from '@tscni/net/host';
import {
  canonicalizeRange,
  canonicalizeRangeSet,
  formatRangeSet,
  rangeCapacity,
  rangeContains,
  rangesOverlap,
} from '../src/ip-range';
import { parseResolvConf } from '../src/resolv-conf';

const ip = (t: string) => parseIP(t)!;

describe('IPAM ranges (ip-range.ts)', () => {
  it('fills the reference defaults: gateway and rangeStart network+1, rangeEnd broadcast-1 (v4) or the last address (v6)', () => {
    const v4 = canonicalizeRange({ subnet: '10.0.0.0/24' });
    expect([v4.gateway, v4.rangeStart, v4.rangeEnd].map(formatIP)).toEqual(['10.0.0.1', '10.0.0.1', '10.0.0.254']);
    const v6 = canonicalizeRange({ subnet: 'fd00::/120' });
    expect([v6.gateway, v6.rangeStart, v6.rangeEnd].map(formatIP)).toEqual(['fd00::1', 'fd00::1', 'fd00::ff']);
    expect(rangeCapacity(v4)).toBe(253n);
    expect(
      rangeCapacity(canonicalizeRange({ subnet: '10.0.0.0/24', gateway: '10.0.0.254', rangeStart: '10.0.0.100' })),
    ).toBe(154n);
  });

  it('refuses what the reference refuses, in its words', () => {
    expect(() => canonicalizeRange({ subnet: '10.0.0.0/31' })).toThrow(
      'Network 10.0.0.0/31 too small to allocate from',
    );
    expect(() => canonicalizeRange({ subnet: '10.0.0.7/24' })).toThrow(
      'Network has host bits set. For a subnet mask of length 24 the network address is 10.0.0.0',
    );
    expect(() => canonicalizeRange({ subnet: '10.0.0.0/24', rangeStart: '10.0.1.1' })).toThrow(
      'RangeStart 10.0.1.1 not in network 10.0.0.0/24',
    );
    expect(() => canonicalizeRange({ subnet: '10.0.0.0/24', rangeEnd: '10.0.1.1' })).toThrow(
      'RangeEnd 10.0.1.1 not in network 10.0.0.0/24',
    );
    expect(() => canonicalizeRange({ subnet: '10.0.0.0/24', rangeStart: '10.0.0.9', rangeEnd: '10.0.0.3' })).toThrow(
      'is after RangeEnd',
    );
    expect(() => canonicalizeRangeSet([])).toThrow('empty range set');
    expect(() => canonicalizeRangeSet([{ subnet: '10.0.0.0/24' }, { subnet: 'fd00::/64' }])).toThrow(
      'mixed address families',
    );
    expect(() => canonicalizeRangeSet([{ subnet: '10.0.0.0/24' }, { subnet: '10.0.0.0/25' }])).toThrow(
      'subnets 10.0.0.1-10.0.0.254 and 10.0.0.1-10.0.0.126 overlap',
    );
  });

  it('containment and overlap use rangeStart..rangeEnd, not just the subnet', () => {
    const low = canonicalizeRange({ subnet: '10.0.0.0/24', rangeEnd: '10.0.0.99' });
    const high = canonicalizeRange({ subnet: '10.0.0.0/24', rangeStart: '10.0.0.100' });
    expect(rangesOverlap(low, high)).toBe(false);
    expect(rangeContains(low, ip('10.0.0.99'))).toBe(true);
    expect(rangeContains(low, ip('10.0.0.100'))).toBe(false);
    expect(
      formatRangeSet(
        canonicalizeRangeSet([
          { subnet: '10.0.0.0/24', rangeEnd: '10.0.0.99' },
          { subnet: '10.0.0.0/24', rangeStart: '10.0.0.100' },
        ]),
      ),
    ).toBe('10.0.0.1-10.0.0.99,10.0.0.100-10.0.0.254');
  });
});

describe('resolv.conf (resolv-conf.ts)', () => {
  it('reads nameserver, domain, search and options; skips comments and bare keywords', () => {
    const text =
      '# c\n; c\nnameserver 1.1.1.1\n  nameserver   fd00::53  \ndomain a.example\ndomain b.example\nsearch x y\nsearch z\noptions ndots:5\nnameserver\n';
    expect(parseResolvConf(text)).toEqual({
      nameservers: ['1.1.1.1', 'fd00::53'],
      domain: 'b.example',
      search: ['x', 'y', 'z'],
      options: ['ndots:5'],
    });
    expect(parseResolvConf('')).toEqual({});
  });
});
