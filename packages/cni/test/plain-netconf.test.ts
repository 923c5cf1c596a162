import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configMutations } from '../src/config-mutations';
import { goParse } from '../src/go-json';
import { plainNetConf } from '../src/plain-netconf';
import { NetConfSchema } from '../src/types';

type Raw = Record<string, unknown>;

/** What the schema's path makes of a config: its value and its JSON text (key order at every level). */
const viaSchema = (raw: Raw) => {
  const parsed = goParse(NetConfSchema, raw);
  return parsed.success ? { value: parsed.data, text: JSON.stringify(parsed.data) } : undefined;
};

/** The shortcut must give exactly the schema's value (types, key order, prototypes) whenever it answers. */
function expectSameAsSchema(raw: Raw): boolean {
  const fast = plainNetConf(raw);
  if (fast === undefined) return false;
  const slow = viaSchema(raw);
  expect(slow, `the schema rejects ${JSON.stringify(raw)}, the shortcut took it`).toBeDefined();
  expect(fast).toStrictEqual(slow!.value);
  expect(JSON.stringify(fast)).toBe(slow!.text);
  expect(Object.getPrototypeOf(fast)).toBe(Object.prototype);
  return true;
}

const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [
    { name: 'cni0', mac: 'aa:bb:cc:dd:ee:ff' },
    { name: 'eth0', sandbox: '/run/netns/p' },
  ],
  ips: [{ address: '10.1.0.2/24', gateway: '10.1.0.1', interface: 1 }],
  routes: [{ dst: '0.0.0.0/0' }],
  dns: {},
};

/** Configs as runtimes hand them to a plugin (libcni's injected name/cniVersion/runtimeConfig/prevResult). */
const RUNTIME_CONFIGS: Raw[] = [
  { cniVersion: '0.3.1', name: 'cni-loopback', type: 'loopback' },
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
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'portmap',
    capabilities: { portMappings: true },
    snat: true,
    runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
    prevResult,
  },
  {
    cniVersion: '1.0.0',
    name: 'k8s-pod-network',
    type: 'bandwidth',
    capabilities: { bandwidth: true },
    runtimeConfig: { bandwidth: { ingressRate: 1e8, ingressBurst: 1e7, egressRate: 1e8, egressBurst: 1e7 } },
    prevResult,
  },
  {
    cniVersion: '1.1.0',
    name: 'n',
    type: 'tuning',
    sysctl: { 'net.ipv4.conf.IFNAME.arp_ignore': '1' },
    args: { cni: { mac: 'aa:bb:cc:dd:ee:ff' } },
    prevResult,
  },
  { cniVersion: '0.4.0', name: 'n', type: 'bridge', ipam: { type: 'dhcp', daemonSocketPath: null }, mtu: 1400 },
  { cniVersion: '1.0.0', name: 'n', type: 'ptp', ipam: {}, dns: null, args: null, runtimeConfig: null },
  { type: 'loopback', name: 'n', cniVersion: '1.1.0', 7: 'digits first', extra: [1, null, { a: null }] },
];

/** Every config of the bad-input corpus that is a JSON object. */
function hardeningConfigs(): Raw[] {
  const corpus = JSON.parse(readFileSync(join(__dirname, '../../../e2e/hardening/corpus.json'), 'utf8')) as {
    stdin: unknown;
  }[];
  return corpus.flatMap((c) => {
    if (typeof c.stdin !== 'string') return [];
    try {
      const v: unknown = JSON.parse(c.stdin);
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? [v as Raw] : [];
    } catch {
      return [];
    }
  });
}

const FIELDS = [
  'cniVersion',
  'name',
  'type',
  'capabilities',
  'ipam',
  'dns',
  'args',
  'runtimeConfig',
  'prevResult',
  'ipMasq',
];

describe('plainNetConf: the schema-free NetConf decode', () => {
  for (const raw of RUNTIME_CONFIGS)
    it(`decodes ${JSON.stringify(raw).slice(0, 80)}… as the schema does, without the schema`, () => {
      expect(expectSameAsSchema(JSON.parse(JSON.stringify(raw)) as Raw)).toBe(true);
    });

  const plain: Raw[] = [
    {},
    { cniVersion: '1.0.0' },
    { cniVersion: '' },
    { name: 'lo' },
    { type: 'loopback' },
    { name: '', type: '' },
    { cniVersion: null, name: null },
    { cniVersion: '1.0.0', capabilities: { portMappings: null, bandwidth: false } },
    { cniVersion: '1.0.0', ipam: { type: null, subnet: '10.0.0.0/8' } },
    { cniVersion: '1.0.0', extra: 'x', ipMasq: false },
  ];
  for (const raw of plain)
    it(`decodes ${JSON.stringify(raw)} as the schema does`, () => expect(expectSameAsSchema(raw)).toBe(true));

  const other: Raw[] = [
    { cniVersion: 1 },
    { CNIVersion: '1.0.0' },
    { Name: 'n' },
    { name: 'n', NAME: 'm' },
    { cniVersion: '1.0.0', dns: {} },
    { cniVersion: '1.0.0', ipMasq: 'true' },
    { cniVersion: '1.0.0', ipam: [] },
    { cniVersion: '1.0.0', ipam: { Type: 'host-local' } },
    { cniVersion: '1.0.0', ipam: { type: 1 } },
    { cniVersion: '1.0.0', capabilities: { portMappings: 'yes' } },
    { cniVersion: '1.0.0', prevResult: [] },
    { cniVersion: '1.0.0', runtimeConfig: 'x' },
    JSON.parse('{"__proto__": "x", "name": "n"}') as Raw,
    JSON.parse('{"name": "n", "args": {"__proto__": {"cni": {}}}}') as Raw,
  ];
  for (const raw of other)
    it(`leaves ${JSON.stringify(raw)} to the schema`, () => expect(plainNetConf(raw)).toBeUndefined());

  it('agrees with the schema on every bad-input corpus config and on every mutation of the configs above', () => {
    const corpus = hardeningConfigs();
    // Every corpus config, and every third one mutated (all of them: 150 000 inputs, 20 s).
    const mutated = [...RUNTIME_CONFIGS, ...corpus.filter((_, i) => i % 3 === 0)].flatMap((c) =>
      configMutations(c, FIELDS, 1),
    );
    const inputs = [...corpus, ...mutated];
    let taken = 0;
    for (const raw of inputs) if (expectSameAsSchema(raw)) taken++;
    // A third are configs the shortcut takes; the rest (wrong types, folded keys) went to the schema.
    expect(inputs.length).toBeGreaterThan(40_000);
    expect(taken).toBeGreaterThan(inputs.length / 4);
  });
});
