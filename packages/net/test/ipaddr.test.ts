import { describe, expect, it } from 'vitest';
import { cidrContains, cidrsOverlap, formatIP, hasHostBits, lastOf, networkOf, parseCIDR, parseIP } from '../src/host';

describe('ipaddr', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['255.255.255.255', '255.255.255.255'],
    ['::1', '::1'],
    ['fd00::', 'fd00::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['FE80:0:0:0:0:0:0:1', 'fe80::1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['::ffff:10.1.2.3', '::ffff:a01:203'],
  ])('parses and formats %s', (input, canonical) => {
    const ip = parseIP(input);
    expect(ip).toBeDefined();
    expect(formatIP(ip!)).toBe(canonical);
  });

  it.each(['256.0.0.1', '1.2.3', 'fd00:::1', '1:2:3:4:5:6:7:8:9', 'hello', '', '1.2.3.4 '])('rejects %j', (bad) => {
    expect(parseIP(bad)).toBeUndefined();
  });

  it('does CIDR arithmetic', () => {
    const c = parseCIDR('10.1.2.77/24')!;
    expect(hasHostBits(c)).toBe(true);
    expect(formatIP(networkOf(c).ip)).toBe('10.1.2.0');
    expect(formatIP(lastOf(c))).toBe('10.1.2.255');
    expect(cidrContains(c, parseIP('10.1.2.200')!)).toBe(true);
    expect(cidrContains(c, parseIP('10.1.3.1')!)).toBe(false);
    expect(cidrsOverlap(parseCIDR('10.0.0.0/8')!, parseCIDR('10.9.0.0/16')!)).toBe(true);
    expect(cidrsOverlap(parseCIDR('10.0.0.0/16')!, parseCIDR('10.1.0.0/16')!)).toBe(false);
    expect(formatIP(lastOf(parseCIDR('fd00::/120')!))).toBe('fd00::ff');
    expect(parseCIDR('10.0.0.0/33')).toBeUndefined();
    expect(parseCIDR('10.0.0.0')).toBeUndefined();
  });
});
