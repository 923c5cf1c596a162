import { describe, expect, it } from 'vitest';
import { corpusConfigs, expectPlainDecodeParity, type RawConfig } from '@tscni/testing/plain-decode-parity';
import { configMutations } from '@tscni/cni/config-mutations';
import { plainDecode } from '@tscni/cni/plain-decode';
import { BandwidthConfSchema, plainBandwidthConf } from '../src/config';

const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/p' }],
  ips: [{ address: '10.1.0.2/24', interface: 0 }],
};
const BASES: RawConfig[] = [
  {
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'bandwidth',
    capabilities: { bandwidth: true },
    runtimeConfig: { bandwidth: { ingressRate: 1e8, ingressBurst: 1e7, egressRate: 1e8, egressBurst: 1e7 } },
    prevResult,
  },
  {
    cniVersion: '0.4.0',
    name: 'n',
    type: 'bandwidth',
    ingressRate: 123456,
    ingressBurst: 54321,
    egressRate: 0,
    egressBurst: 0,
    prevResult,
  },
];

describe("bandwidth's config without the schema", () => {
  it('decodes as goParse does whenever it answers, and answers ordinary configs', () => {
    const desc = plainBandwidthConf();
    const inputs = [...BASES, ...corpusConfigs('bandwidth')].flatMap((b) => [
      b,
      ...configMutations(b, ['ingressRate', 'runtimeConfig'], 3),
    ]);
    expectPlainDecodeParity(desc, BandwidthConfSchema, inputs, BASES, 1 / 4);
    expect(plainDecode(desc, { ...BASES[0], ingressRate: 1.5 })).toBeUndefined();
  });
});
