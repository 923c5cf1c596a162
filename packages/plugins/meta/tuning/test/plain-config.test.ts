import { describe, expect, it } from 'vitest';
import { corpusConfigs, expectPlainDecodeParity, type RawConfig } from '@tscni/testing/plain-decode-parity';
import { configMutations } from '@tscni/cni/config-mutations';
import { plainDecode } from '@tscni/cni/plain-decode';
import { TuningConfSchema, plainTuningConf } from '../src/config';

const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/p' }],
  ips: [{ address: '10.1.0.2/24', interface: 0 }],
};
const BASES: RawConfig[] = [
  {
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'tuning',
    sysctl: { 'net.ipv4.conf.IFNAME.arp_ignore': '1', 'net.core.somaxconn': '500' },
    prevResult,
  },
  {
    cniVersion: '1.1.0',
    name: 'n',
    type: 'tuning',
    mac: 'aa:bb:cc:dd:ee:ff',
    mtu: 1400,
    promisc: true,
    allmulti: false,
    txQLen: 1000,
    dataDir: '/run/cni/tuning-test',
    runtimeConfig: { mac: 'aa:bb:cc:dd:ee:fe' },
    args: { cni: { sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1' }, mtu: 1500, promisc: false } },
    prevResult,
  },
];

describe("tuning's config without the schema", () => {
  it('decodes as goParse does whenever it answers, and answers ordinary configs', () => {
    const desc = plainTuningConf();
    const inputs = [...BASES, ...corpusConfigs('tuning')].flatMap((b) => [
      b,
      ...configMutations(b, ['sysctl', 'args'], 3),
    ]);
    expectPlainDecodeParity(desc, TuningConfSchema, inputs, BASES, 1 / 4);
    expect(plainDecode(desc, { ...BASES[0], sysctl: { a: null } })).toBeUndefined();
  });
});
