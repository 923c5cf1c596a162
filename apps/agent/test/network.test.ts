import { describe, expect, it } from 'vitest';
import { formatCIDR } from '@tscni/net/host';
import { ConfigError, candidateSubnets, parseNetworkConfig, subnetFromKey, subnetKey } from '../src/network';
import { parseLeaseAttrs } from '../src/lease';
import { formatSubnetEnv } from '../src/subnet-file';

describe("flannel's network config and subnet keys", () => {
  it('fills in flannel’s defaults: SubnetLen 24, SubnetMin the second subnet, SubnetMax the last, VNI 1, port 8472', () => {
    const c = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
    expect(c.subnetLen).toBe(24);
    expect(formatCIDR(c.subnetMin)).toBe('10.244.1.0/24');
    expect(formatCIDR(c.subnetMax)).toBe('10.244.255.0/24');
    expect(c.backend).toEqual({ type: 'vxlan', vni: 1, port: 8472, directRouting: false });
    expect([...candidateSubnets(c)]).toHaveLength(255);
  });

  it('makes subnets two bits longer than a network smaller than a /22', () => {
    expect(parseNetworkConfig('{"Network":"10.9.0.0/26","Backend":{"Type":"vxlan"}}').subnetLen).toBe(28);
    expect(parseNetworkConfig('{"Network":"10.9.0.0/22","Backend":{"Type":"vxlan"}}').subnetLen).toBe(24);
  });

  it('honours SubnetLen, SubnetMin, SubnetMax, VNI and Port', () => {
    const c = parseNetworkConfig(
      '{"Network":"10.10.0.0/16","SubnetLen":26,"SubnetMin":"10.10.0.64","SubnetMax":"10.10.0.192","Backend":{"Type":"host-gw","VNI":7,"Port":4789}}',
    );
    expect([...candidateSubnets(c)].map(formatCIDR)).toEqual(['10.10.0.64/26', '10.10.0.128/26', '10.10.0.192/26']);
    expect(c.backend).toMatchObject({ type: 'host-gw', vni: 7, port: 4789 });
  });

  it('refuses what it cannot serve, saying why', () => {
    expect(() => parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"udp"}}')).toThrow(
      /backend type "udp" is not supported/,
    );
    expect(() => parseNetworkConfig('{"Network":"10.244.0.0/16","SubnetLen":16}')).toThrow(ConfigError);
    expect(() =>
      parseNetworkConfig('{"Network":"10.244.0.0/16","SubnetMin":"10.245.0.0","Backend":{"Type":"vxlan"}}'),
    ).toThrow(/SubnetMin/);
    expect(() => parseNetworkConfig('not json')).toThrow(/not JSON/);
  });

  it('names subnets as flannel does in etcd', () => {
    const s = subnetFromKey('10.244.1.0-24')!.subnet;
    expect(formatCIDR(s)).toBe('10.244.1.0/24');
    expect(subnetKey(s)).toBe('10.244.1.0-24');
    expect(subnetFromKey('10.244.1.0/24')).toBeUndefined();
  });

  it('reads flannel’s lease JSON and skips malformed ones', () => {
    expect(
      parseLeaseAttrs(
        '{"PublicIP":"198.18.0.11","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"AA:bb:cc:dd:ee:ff"}}',
      ),
    ).toEqual({
      PublicIP: '198.18.0.11',
      BackendType: 'vxlan',
      BackendData: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:ff' },
    });
    expect(parseLeaseAttrs('{"PublicIP":"198.18.0.11","BackendType":"host-gw","BackendData":null}')?.BackendType).toBe(
      'host-gw',
    );
    expect(parseLeaseAttrs('{"PublicIP":"198.18.0.11","BackendType":"vxlan","BackendData":{}}')).toBeUndefined();
    expect(parseLeaseAttrs('{"PublicIP":"x","BackendType":"vxlan"}')).toBeUndefined();
  });

  it('writes subnet.env as flanneld does (FLANNEL_SUBNET is the gateway address)', () => {
    const c = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
    expect(
      formatSubnetEnv({ network: c.network, subnet: subnetFromKey('10.244.3.0-24')!.subnet, mtu: 1450, ipMasq: true }),
    ).toBe('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  });
});
