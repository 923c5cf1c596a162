import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configMutations } from '@tscni/cni/config-mutations';
import { goParse } from '@tscni/cni/go-json';
import { plainDecode } from '@tscni/cni/plain-decode';
import { TuningConfSchema, plainTuningConf } from '../src/config';

type Raw = Record<string, unknown>;

const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/p' }],
  ips: [{ address: '10.1.0.2/24', interface: 0 }],
};
const BASES: Raw[] = [
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

/** The bad-input corpus's tuning configs. */
function corpusConfigs(): Raw[] {
  const corpus = JSON.parse(readFileSync(join(__dirname, '../../../../../e2e/hardening/corpus.json'), 'utf8')) as {
    plugin: string;
    stdin: unknown;
  }[];
  return corpus.flatMap((c) => {
    if (c.plugin !== 'tuning' || typeof c.stdin !== 'string') return [];
    try {
      const v: unknown = JSON.parse(c.stdin);
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? [v as Raw] : [];
    } catch {
      return [];
    }
  });
}

describe("tuning's config without the schema", () => {
  it('decodes as goParse does whenever it answers, and answers ordinary configs', () => {
    const desc = plainTuningConf();
    const inputs = [...BASES, ...corpusConfigs()].flatMap((b) => [b, ...configMutations(b, ['sysctl', 'args'], 3)]);
    let taken = 0;
    for (const raw of inputs) {
      const fast = plainDecode(desc, raw);
      if (fast === undefined) continue;
      taken++;
      const slow = goParse(TuningConfSchema, raw);
      expect(slow.success, JSON.stringify(raw)).toBe(true);
      expect(fast).toStrictEqual(slow.data);
      expect(JSON.stringify(fast)).toBe(JSON.stringify(slow.data));
    }
    for (const b of BASES) expect(plainDecode(desc, b)).toBeDefined();
    expect(plainDecode(desc, { ...BASES[0], sysctl: { a: null } })).toBeUndefined();
    expect(inputs.length).toBeGreaterThan(3000);
    expect(taken).toBeGreaterThan(inputs.length / 4);
  });
});
