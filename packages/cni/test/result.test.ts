import { describe, expect, it } from 'vitest';
import { convertResult, parseCniArgs, toCurrentResult, type Result } from '../src';

const current: Result = {
  cniVersion: '1.1.0',
  interfaces: [
    {
      name: 'eth0',
      mac: '0a:00:00:00:00:01',
      mtu: 1500,
      sandbox: '/var/run/netns/x',
      socketPath: '/s',
      pciID: '0000:01:00.0',
    },
  ],
  ips: [
    { address: '10.1.0.2/24', gateway: '10.1.0.1', interface: 0 },
    { address: '10.1.0.3/24', interface: 0 },
    { address: 'fd00::2/64', gateway: 'fd00::1', interface: 0 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1', mtu: 1400, priority: 5 }, { dst: '::/0' }],
  dns: { nameservers: ['10.1.0.10'], search: ['svc'] },
};

describe('result conversion', () => {
  it('1.x → 0.4.0 adds ips[].version and drops the 1.1 interface fields', () => {
    const r = convertResult(current, '0.4.0') as any;
    expect(r.ips.map((i: { version: string }) => i.version)).toEqual(['4', '4', '6']);
    expect(r.interfaces[0]).toEqual({ name: 'eth0', mac: '0a:00:00:00:00:01', sandbox: '/var/run/netns/x' });
    expect(r.routes[0]).toEqual({ dst: '0.0.0.0/0', gw: '10.1.0.1', mtu: 1400, priority: 5 });
  });

  it('→ 0.2.0 keeps the first v4 and first v6 address with their routes', () => {
    expect(convertResult(current, '0.2.0')).toEqual({
      cniVersion: '0.2.0',
      ip4: { ip: '10.1.0.2/24', gateway: '10.1.0.1', routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }] },
      ip6: { ip: 'fd00::2/64', gateway: 'fd00::1', routes: [{ dst: '::/0' }] },
      dns: { nameservers: ['10.1.0.10'], search: ['svc'] },
    });
  });

  it('→ 0.1.0 fails without any IP', () => {
    expect(() => convertResult({ cniVersion: '1.0.0', interfaces: [{ name: 'lo' }] }, '0.1.0')).toThrow(/no valid IP/);
  });

  it('0.2.0 → current → 0.2.0 round-trips', () => {
    const legacy = {
      cniVersion: '0.2.0',
      ip4: { ip: '10.0.0.2/8', gateway: '10.0.0.1', routes: [{ dst: '0.0.0.0/0' }] },
    };
    const up = toCurrentResult(legacy);
    expect(up).toEqual({
      cniVersion: '0.2.0',
      ips: [{ address: '10.0.0.2/8', gateway: '10.0.0.1' }],
      routes: [{ dst: '0.0.0.0/0' }],
    });
    expect(convertResult(up, '0.2.0')).toEqual(legacy);
  });

  it('0.4.0 → 1.0.0 drops ips[].version; a missing cniVersion takes the fallback', () => {
    const up = toCurrentResult({ ips: [{ version: '4', address: '1.2.3.4/32' }] }, '0.4.0');
    expect(up.cniVersion).toBe('0.4.0');
    expect(convertResult(up, '1.0.0')).toEqual({ cniVersion: '1.0.0', ips: [{ address: '1.2.3.4/32' }] });
  });

  it('a malformed result is a decoding error', () => {
    expect(() => toCurrentResult({ cniVersion: '1.0.0', ips: 'nope' })).toThrow(/ips/);
  });
});

describe('CNI_ARGS parsing', () => {
  it('splits pairs and honours IgnoreUnknown case-insensitively', () => {
    expect(parseCniArgs('IgnoreUnknown=TRUE;IP=1.2.3.4;X=y', ['IP'])).toEqual({ IP: '1.2.3.4' });
    expect(() => parseCniArgs('IP', ['IP'])).toThrow('ARGS: invalid pair "IP"');
    expect(() => parseCniArgs('IP=a=b', ['IP'])).toThrow(/invalid pair/);
    expect(() => parseCniArgs('ip=1', ['IP'])).toThrow('ARGS: unknown args ["ip"]');
    expect(parseCniArgs('', ['IP'])).toEqual({});
  });
});
