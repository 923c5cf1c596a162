import { describe, expect, it } from 'vitest';
import { corpusConfigs, expectPlainDecodeParity, type RawConfig } from '@tscni/testing/plain-decode-parity';
import { configMutations } from '@tscni/cni/config-mutations';
import { plainDecode } from '@tscni/cni/plain-decode';
import { PortMapConfSchema, PortMapDelSchema, plainPortMapConfs } from '../src/config';

const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/p' }],
  ips: [{ address: '10.1.0.2/24', interface: 0 }],
};
const BASES: RawConfig[] = [
  {
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'portmap',
    capabilities: { portMappings: true },
    snat: true,
    runtimeConfig: {
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
        { hostPort: 8443, containerPort: 443, protocol: 'UDP', hostIP: '10.0.0.1', extra: 1 },
      ],
    },
    prevResult,
  },
  {
    cniVersion: '0.4.0',
    name: 'n',
    type: 'portmap',
    masqAll: true,
    markMasqBit: 5,
    externalSetMarkChain: 'KUBE-MARK-MASQ',
    conditionsV4: ['-s', '10.0.0.0/8'],
    backend: '',
    runtimeConfig: { portMappings: [{ hostPort: 1, containerPort: 65535, protocol: 'sctp', hostIP: '' }] },
    prevResult,
  },
];

describe("portmap's config without the schema", () => {
  const plain = plainPortMapConfs();
  const inputs = [...BASES, ...corpusConfigs('portmap')].flatMap((b) => [
    b,
    ...configMutations(b, ['conditionsV6', 'backend', 'runtimeConfig'], 4),
  ]);
  for (const [verb, desc, schema] of [
    ['ADD', plain.add, PortMapConfSchema],
    ['DEL', plain.del, PortMapDelSchema],
  ] as const)
    it(`${verb}: decodes as goParse does whenever it answers, and answers ordinary configs`, () => {
      expectPlainDecodeParity(desc, schema, inputs, BASES, 1 / 4);
    });

  it('lower-cases the protocol and drops unknown mapping keys, as the schema does', () => {
    const out = plainDecode<{ runtimeConfig: { portMappings: RawConfig[] } }>(plain.add, BASES[0]);
    expect(out!.runtimeConfig.portMappings[1]).toStrictEqual({
      hostPort: 8443,
      containerPort: 443,
      protocol: 'udp',
      hostIP: '10.0.0.1',
    });
    expect(plainDecode(plain.add, { ...BASES[0], runtimeConfig: { portMappings: [{ hostPort: 1 }] } })).toBeUndefined();
  });
});
