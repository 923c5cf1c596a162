import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configMutations } from '@tscni/cni/config-mutations';
import { goParse } from '@tscni/cni/go-json';
import { plainDecode } from '@tscni/cni/plain-decode';
import { BandwidthConfSchema, plainBandwidthConf } from '../src/config';

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

/** The bad-input corpus's bandwidth configs. */
function corpusConfigs(): Raw[] {
  const corpus = JSON.parse(readFileSync(join(__dirname, '../../../../../e2e/hardening/corpus.json'), 'utf8')) as {
    plugin: string;
    stdin: unknown;
  }[];
  return corpus.flatMap((c) => {
    if (c.plugin !== 'bandwidth' || typeof c.stdin !== 'string') return [];
    try {
      const v: unknown = JSON.parse(c.stdin);
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? [v as Raw] : [];
    } catch {
      return [];
    }
  });
}

describe("bandwidth's config without the schema", () => {
  it('decodes as goParse does whenever it answers, and answers ordinary configs', () => {
    const desc = plainBandwidthConf();
    const inputs = [...BASES, ...corpusConfigs()].flatMap((b) => [
      b,
      ...configMutations(b, ['ingressRate', 'runtimeConfig'], 3),
    ]);
    let taken = 0;
    for (const raw of inputs) {
      const fast = plainDecode(desc, raw);
      if (fast === undefined) continue;
      taken++;
      const slow = goParse(BandwidthConfSchema, raw);
      expect(slow.success, JSON.stringify(raw)).toBe(true);
      expect(fast).toStrictEqual(slow.data);
      expect(JSON.stringify(fast)).toBe(JSON.stringify(slow.data));
    }
    for (const b of BASES) expect(plainDecode(desc, b)).toBeDefined();
    expect(plainDecode(desc, { ...BASES[0], ingressRate: 1.5 })).toBeUndefined();
    expect(inputs.length).toBeGreaterThan(3000);
    expect(taken).toBeGreaterThan(inputs.length / 4);
  });
});
