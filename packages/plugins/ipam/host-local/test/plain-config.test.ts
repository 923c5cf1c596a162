import { describe, it } from 'vitest';
import { corpusConfigs, expectPlainDecodeParity, type RawConfig } from '@tscni/testing/plain-decode-parity';
import { configMutations } from '@tscni/cni/config-mutations';
import { HostLocalNetConfSchema, plainHostLocalConf } from '../src/config';

const BASES: RawConfig[] = [
  {
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'bridge',
    bridge: 'cni0',
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: '10.88.0.0/16', gateway: '10.88.0.1' }], [{ subnet: 'fd00::/64' }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: '' }],
      dataDir: '/var/lib/cni/networks',
    },
  },
  {
    cniVersion: '0.4.0',
    name: 'n',
    type: 'ptp',
    ipam: {
      type: 'host-local',
      subnet: '10.1.0.0/24',
      rangeStart: '10.1.0.10',
      rangeEnd: '10.1.0.20',
      gateway: '10.1.0.1',
      resolvConf: '/etc/resolv.conf',
    },
    runtimeConfig: { ips: ['10.1.0.12/24'], ipRanges: [[{ subnet: '10.2.0.0/24', rangeStart: '10.2.0.5' }]] },
    args: { cni: { ips: ['10.1.0.13'] } },
  },
];

describe("host-local's config without the schema", () => {
  it('decodes as goParse does whenever it answers, and answers ordinary configs', () => {
    const desc = plainHostLocalConf();
    const inputs = [...BASES, ...corpusConfigs('host-local')].flatMap((b) => [
      b,
      ...configMutations(b, ['runtimeConfig'], 4),
    ]);
    expectPlainDecodeParity(desc, HostLocalNetConfSchema, inputs, BASES, 1 / 4);
  });
});
