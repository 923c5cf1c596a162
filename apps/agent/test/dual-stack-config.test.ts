/**
 * Dual-stack as flannel does it in etcd mode: the config's EnableIPv6/IPv6Network/IPv6SubnetLen/Min/Max
 * with flannel's defaults, the `10.244.1.0-24&fd00::-64` lease keys, the lease value's PublicIPv6 and
 * BackendV6Data, subnet.env's IPv6 lines, and the IPv6 masquerade rules.
 */
import { describe, expect, it } from 'vitest';
import { formatCIDR } from '@tscni/net/host';
import {
  ConfigError,
  candidateSubnets,
  ipv6Compatible,
  parseNetworkConfig,
  subnetFromKey,
  subnetKey,
} from '../src/network';
import { makeAttrs, parseLeaseAttrs } from '../src/lease';
import { formatSubnetEnv } from '../src/subnet-file';
import { masqRules, nftScript } from '../src/ipmasq';

const DUAL =
  '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}';

describe('dual-stack network config (flannel’s EnableIPv6 and IPv6Network)', () => {
  it('fills in flannel’s IPv6 defaults: IPv6SubnetLen 64, IPv6SubnetMin the second subnet, IPv6SubnetMax the last', () => {
    const c = parseNetworkConfig(DUAL);
    expect(formatCIDR(c.ipv6!.network)).toBe('fd00:10:244::/56');
    expect(c.ipv6!.subnetLen).toBe(64);
    expect(formatCIDR(c.ipv6!.subnetMin)).toBe('fd00:10:244:1::/64');
    expect(formatCIDR(c.ipv6!.subnetMax)).toBe('fd00:10:244:ff::/64');
    expect([...candidateSubnets(c.ipv6!)]).toHaveLength(255);
    expect(c.ipv6Ignored).toBe(false);
  });

  it('makes IPv6 subnets two bits longer than a network smaller than a /62, and honours IPv6SubnetLen/Min/Max', () => {
    expect(
      parseNetworkConfig(
        '{"Network":"10.1.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/100"}'.replace(
          '}',
          ',"Backend":{"Type":"vxlan"}}',
        ),
      ).ipv6!.subnetLen,
    ).toBe(102);
    const c = parseNetworkConfig(
      '{"Network":"10.1.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:1::/48","IPv6SubnetLen":80,"IPv6SubnetMin":"fd00:1:0:1::","IPv6SubnetMax":"fd00:1:0:1:2::","Backend":{"Type":"host-gw"}}',
    );
    expect([...candidateSubnets(c.ipv6!)].map(formatCIDR)).toEqual([
      'fd00:1:0:1::/80',
      'fd00:1:0:1:1::/80',
      'fd00:1:0:1:2::/80',
    ]);
  });

  it('ignores IPv6Network without "EnableIPv6": true, as flanneld does (and says so)', () => {
    const c = parseNetworkConfig('{"Network":"10.244.0.0/16","IPv6Network":"fd00::/56","Backend":{"Type":"vxlan"}}');
    expect(c.ipv6).toBeUndefined();
    expect(c.ipv6Ignored).toBe(true);
  });

  it('reads vxlan’s DirectRouting as flanneld’s JSON decoder does (either spelling)', () => {
    expect(
      parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan","DirectRouting":true}}').backend
        .directRouting,
    ).toBe(true);
    expect(
      parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan","directRouting":true}}').backend
        .directRouting,
    ).toBe(true);
    expect(parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}').backend.directRouting).toBe(
      false,
    );
  });

  it('refuses IPv6 settings it cannot serve, saying why', () => {
    expect(() =>
      parseNetworkConfig('{"Network":"10.244.0.0/16","EnableIPv6":true,"Backend":{"Type":"vxlan"}}'),
    ).toThrow(/"EnableIPv6" needs "IPv6Network"/);
    expect(() =>
      parseNetworkConfig('{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"10.9.0.0/16"}'),
    ).toThrow(ConfigError);
    expect(() =>
      parseNetworkConfig(
        '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/126","Backend":{"Type":"vxlan"}}',
      ),
    ).toThrow(/IPv6SubnetLen/);
    expect(() =>
      parseNetworkConfig(
        '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/56","IPv6SubnetMin":"fd00:1::","Backend":{"Type":"vxlan"}}',
      ),
    ).toThrow(/IPv6SubnetMin/);
    expect(() =>
      parseNetworkConfig(
        '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/56","IPv6SubnetMin":"fd00:0:0:1::1","Backend":{"Type":"vxlan"}}',
      ),
    ).toThrow(/IPv6SubnetMin/);
    expect(() =>
      parseNetworkConfig(
        '{"Network":"10.244.0.0/16","EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00::/56","Backend":{"Type":"vxlan"}}',
      ),
    ).toThrow(/IPv6-only/);
  });

  it('names dual-stack leases as flannel does in etcd (10.244.1.0-24&fd00:10:244:1::-64)', () => {
    const k = subnetFromKey('10.244.1.0-24&fd00:10:244:1::-64')!;
    expect(formatCIDR(k.subnet)).toBe('10.244.1.0/24');
    expect(formatCIDR(k.subnet6!)).toBe('fd00:10:244:1::/64');
    expect(subnetKey(k.subnet, k.subnet6)).toBe('10.244.1.0-24&fd00:10:244:1::-64');
    expect(subnetFromKey('10.244.1.0-24&10.0.0.0-8')).toBeUndefined();
    expect(subnetFromKey('10.244.1.0-24&fd00::-64x')).toBeUndefined();
    const c = parseNetworkConfig(DUAL);
    expect(ipv6Compatible(c, k.subnet6)).toBe(true);
    expect(ipv6Compatible(c, undefined)).toBe(false); // a v4-only lease is not kept once IPv6 is on
    expect(
      ipv6Compatible(parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'), k.subnet6),
    ).toBe(false);
  });

  it('reads and writes flanneld’s dual-stack lease value: PublicIPv6 and BackendV6Data with the v6 VTEP’s MAC', () => {
    // What flanneld v0.26 writes for a dual-stack vxlan node (field order as its LeaseAttrs struct).
    const flanneld =
      '{"PublicIP":"198.18.0.11","PublicIPv6":"fd00:198:18::11","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"6a:1b:2c:3d:4e:5f"},"BackendV6Data":{"VNI":1,"VtepMAC":"7a:1b:2c:3d:4e:5f"}}';
    const a = parseLeaseAttrs(flanneld)!;
    expect(a).toEqual({
      PublicIP: '198.18.0.11',
      PublicIPv6: 'fd00:198:18::11',
      BackendType: 'vxlan',
      BackendData: { VNI: 1, VtepMAC: '6a:1b:2c:3d:4e:5f' },
      BackendV6Data: { VNI: 1, VtepMAC: '7a:1b:2c:3d:4e:5f' },
    });
    expect(JSON.stringify(makeAttrs(a.PublicIP, 'vxlan', a.BackendData, a.PublicIPv6, a.BackendV6Data))).toBe(flanneld);
    // flanneld writes "PublicIPv6":null on a v4-only lease.
    expect(parseLeaseAttrs('{"PublicIP":"198.18.0.11","PublicIPv6":null,"BackendType":"host-gw"}')).toEqual({
      PublicIP: '198.18.0.11',
      BackendType: 'host-gw',
      BackendData: null,
    });
    expect(
      parseLeaseAttrs(
        '{"PublicIP":"198.18.0.11","PublicIPv6":"fd00::11","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"6a:1b:2c:3d:4e:5f"}}',
      ),
    ).toBeUndefined();
    expect(
      parseLeaseAttrs('{"PublicIP":"198.18.0.11","PublicIPv6":"198.18.0.11","BackendType":"host-gw"}'),
    ).toBeUndefined();
  });

  it('writes subnet.env’s FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET (the first address) in flanneld’s order', () => {
    const c = parseNetworkConfig(DUAL);
    const k = subnetFromKey('10.244.3.0-24&fd00:10:244:3::-64')!;
    expect(
      formatSubnetEnv({
        network: c.network,
        subnet: k.subnet,
        ipv6: { network: c.ipv6!.network, subnet: k.subnet6! },
        mtu: 1450,
        ipMasq: true,
      }),
    ).toBe(
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
    );
  });

  it('masquerades IPv6 as flanneld does (multicast ff00::/8 left alone; nftables table ip6 flannel-ipv6)', () => {
    const k = subnetFromKey('10.244.3.0-24&fd00:10:244:3::-64')!;
    const net6 = parseNetworkConfig(DUAL).ipv6!.network;
    expect(masqRules(net6, k.subnet6!)).toContain(
      '-s fd00:10:244::/56 ! -d ff00::/8 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
    );
    const nft = nftScript({ network: net6, subnet: k.subnet6!, masq: true, forward: true });
    expect(nft).toContain('table ip6 flannel-ipv6 {');
    expect(nft).toContain('ip6 saddr fd00:10:244::/56 ip6 daddr != ff00::/8 masquerade fully-random');
    expect(nft).toContain('ip6 daddr fd00:10:244::/56 accept');
  });
});
