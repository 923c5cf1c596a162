import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configMutations } from '@tscni/cni/config-mutations';
import { goParse } from '@tscni/cni/go-json';
import { plainDecode } from '@tscni/cni/plain-decode';
import { HostLocalNetConfSchema, plainHostLocalConf } from '../src/config';

type Raw = Record<string, unknown>;

const BASES: Raw[] = [
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

/** The bad-input corpus's host-local configs. */
function corpusConfigs(): Raw[] {
  const corpus = JSON.parse(readFileSync(join(__dirname, '../../../../../e2e/hardening/corpus.json'), 'utf8')) as {
    plugin: string;
    stdin: unknown;
  }[];
  return corpus.flatMap((c) => {
    if (c.plugin !== 'host-local' || typeof c.stdin !== 'string') return [];
    try {
      const v: unknown = JSON.parse(c.stdin);
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? [v as Raw] : [];
    } catch {
      return [];
    }
  });
}

describe("host-local's config without the schema", () => {
  it('decodes as goParse does whenever it answers, and answers ordinary configs', () => {
    const desc = plainHostLocalConf();
    const inputs = [...BASES, ...corpusConfigs()].flatMap((b) => [b, ...configMutations(b, ['runtimeConfig'], 4)]);
    let taken = 0;
    for (const raw of inputs) {
      const fast = plainDecode(desc, raw);
      if (fast === undefined) continue;
      taken++;
      const slow = goParse(HostLocalNetConfSchema, raw);
      expect(slow.success, JSON.stringify(raw)).toBe(true);
      expect(fast).toStrictEqual(slow.data);
      expect(JSON.stringify(fast)).toBe(JSON.stringify(slow.data));
    }
    for (const b of BASES) expect(plainDecode(desc, b)).toBeDefined();
    expect(inputs.length).toBeGreaterThan(3000);
    expect(taken).toBeGreaterThan(inputs.length / 4);
  });
});
