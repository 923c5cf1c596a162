import { describe, expect, it } from 'vitest';
import { corpusConfigs, expectPlainDecodeParity, type RawConfig } from '@tscni/testing/plain-decode-parity';
import { configMutations } from '@tscni/cni/config-mutations';
import { plainDecode } from '@tscni/cni/plain-decode';
import { BridgeConfSchema, BridgeDelSchema, plainBridgeConfs } from '../src/config';

const BASES: RawConfig[] = [
  {
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'bridge',
    bridge: 'cni0',
    isGateway: true,
    ipMasq: true,
    hairpinMode: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.88.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }] },
  },
  {
    cniVersion: '1.1.0',
    name: 'n',
    type: 'bridge',
    bridge: 'br-vlan',
    isDefaultGateway: true,
    forceAddress: false,
    ipMasqBackend: 'nftables',
    mtu: 1400,
    promiscMode: true,
    vlan: 100,
    preserveDefaultVlan: true,
    macspoofchk: true,
    enabledad: true,
    portIsolation: true,
    ipam: { type: 'static', addresses: [{ address: '10.1.0.2/24' }] },
    runtimeConfig: { mac: 'aa:bb:cc:dd:ee:ff' },
    args: { cni: { mac: 'aa:bb:cc:dd:ee:fe' } },
  },
  { cniVersion: '0.4.0', name: 'l2', type: 'bridge', disableContainerInterface: true, ipMasqBackend: '', ipam: {} },
];

describe("bridge's config without the schema", () => {
  const plain = plainBridgeConfs();
  const inputs = [...BASES, ...corpusConfigs('bridge')].flatMap((b) => [
    b,
    ...configMutations(b, ['vlanTrunk', 'bridge']),
  ]);

  for (const [verb, desc, schema] of [
    ['ADD', plain.add, BridgeConfSchema],
    ['DEL', plain.del, BridgeDelSchema],
  ] as const)
    it(`${verb}: decodes as goParse does whenever it answers, and answers ordinary configs`, () => {
      expectPlainDecodeParity(desc, schema, inputs, BASES, 1 / 3);
    });

  it('leaves a trunk, a bad bridge name and a wrong type to the schema', () => {
    expect(plainDecode(plain.add, { ...BASES[0], vlanTrunk: [{ id: 5 }] })).toBeUndefined();
    expect(plainDecode(plain.add, { ...BASES[0], bridge: 'a/b' })).toBeUndefined();
    expect(plainDecode(plain.del, { ...BASES[0], bridge: 'a/b' })).toBeDefined();
    expect(plainDecode(plain.add, { ...BASES[0], vlan: 4095 })).toBeUndefined();
    expect(plainDecode(plain.add, { ...BASES[0], isGateway: 'true' })).toBeUndefined();
  });
});
