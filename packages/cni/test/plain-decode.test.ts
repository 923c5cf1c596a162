import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configMutations } from '../src/config-mutations';
import { emptyAsUnset, goParse } from '../src/go-json';
import { plainBoolean, plainDecode, plainObject, plainString, type PlainObject } from '../src/plain-decode';
import { ResultSchema, RouteSchema, plainResult, plainRoute } from '../src/types';

type Raw = Record<string, unknown>;

/**
 * `plain` must give exactly goParse(schema)'s value (types, undefined keys, key order at every level) whenever it
 * answers; returns how many of `inputs` it answered.
 */
function expectPlainAsSchema(plain: PlainObject, schema: z.ZodTypeAny, inputs: unknown[]): number {
  let taken = 0;
  for (const raw of inputs) {
    const fast = plainDecode(plain, raw);
    if (fast === undefined) continue;
    taken++;
    const slow = goParse(schema, raw);
    expect(slow.success, `the schema rejects ${JSON.stringify(raw)}, the plain decode took it`).toBe(true);
    expect(fast).toStrictEqual(slow.data);
    expect(JSON.stringify(fast)).toBe(JSON.stringify(slow.data));
  }
  return taken;
}

const RESULTS: Raw[] = [
  {
    cniVersion: '1.0.0',
    interfaces: [
      { name: 'cni0', mac: 'aa:bb:cc:dd:ee:ff' },
      { name: 'veth1', mac: 'aa:bb:cc:dd:ee:fe' },
      { name: 'eth0', mac: 'aa:bb:cc:dd:ee:fd', sandbox: '/var/run/netns/p' },
    ],
    ips: [{ address: '10.1.0.2/16', gateway: '10.1.0.1', interface: 2 }],
    routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }],
    dns: { nameservers: ['10.0.0.10'], domain: 'cluster.local', search: ['a', 'b'], options: ['ndots:5'] },
  },
  {
    cniVersion: '0.4.0',
    ips: [
      { version: '4', address: '10.1.0.2/16' },
      { version: '6', address: 'fd00::2/64', gateway: 'fd00::1' },
    ],
    routes: [{ dst: '::/0', mtu: 1400, advmss: 1360, priority: 5, table: 100, scope: 0 }],
    dns: {},
  },
  { ips: [{ address: '10.1.0.3/16' }], extra: { x: 1 } },
];

describe('plainDecode', () => {
  it('decodes results exactly as ResultSchema does, on every mutation of them', () => {
    const inputs = RESULTS.flatMap((r) => [r, ...configMutations(r, ['interfaces', 'ips', 'routes', 'dns'], 3)]);
    const taken = expectPlainAsSchema(plainResult(), ResultSchema, inputs);
    // Most mutations break a result; the ones left went to the schema.
    expect(inputs.length).toBeGreaterThan(1000);
    expect(taken).toBeGreaterThan(inputs.length / 6);
    for (const r of RESULTS) expect(plainDecode(plainResult(), r)).toBeDefined();
  });

  it('decodes routes exactly as RouteSchema does', () => {
    const route = { dst: '10.0.0.0/8', gw: '10.1.0.1', mtu: 1400, table: 5, comment: 'x' };
    const inputs = [route, ...configMutations(route, ['gw', 'scope'])];
    expect(expectPlainAsSchema(plainRoute(), RouteSchema, inputs)).toBeGreaterThan(inputs.length / 4);
  });

  const Sample = z
    .object({
      name: z.string().optional(),
      on: z.boolean().default(false),
      backend: emptyAsUnset(z.enum(['a', 'b'])),
      must: z.string(),
    })
    .passthrough();
  const sample = plainObject({
    name: plainString,
    on: { kind: plainBoolean, value: false },
    backend: { kind: { k: 'enum', values: ['a', 'b'] }, emptyAsUnset: true },
    must: { kind: plainString, required: true },
    trunk: { k: 'never' },
  });

  it('applies defaults, keeps "" of an emptyAsUnset field as an undefined key, puts undeclared keys last', () => {
    const out = plainDecode(sample, { z: 1, must: 'm', backend: '', name: null });
    expect(out).toStrictEqual({ on: false, backend: undefined, must: 'm', z: 1 });
    expect(Object.keys(out!)).toEqual(['on', 'backend', 'must', 'z']);
    expect(out).toStrictEqual(goParse(Sample, { z: 1, must: 'm', backend: '', name: null }).data);
  });

  it('leaves to the schema what it does not take', () => {
    for (const v of [
      { must: 1 },
      {},
      { must: 'm', Name: 'n' },
      { must: 'm', backend: 'c' },
      { must: 'm', trunk: [] },
      { must: 'm', on: 'true' },
      JSON.parse('{"must": "m", "__proto__": {}}') as unknown,
      [],
      null,
      'x',
    ])
      expect(plainDecode(sample, v), JSON.stringify(v)).toBeUndefined();
    expect(plainDecode(plainResult(), { ips: [null] })).toBeUndefined();
  });
});
