import { describe, expect, it } from 'vitest';
import { goParse } from '../src/go-json';
import { plainNetConf } from '../src/plain-netconf';
import { NetConfSchema } from '../src/types';

/** What the schema's path makes of a config, with its key order (toStrictEqual ignores order). */
const viaSchema = (raw: Record<string, unknown>) => {
  const parsed = goParse(NetConfSchema, raw);
  return parsed.success ? { value: parsed.data, keys: Object.keys(parsed.data) } : undefined;
};

describe('plainNetConf: the schema-free decode of a cniVersion/name/type config', () => {
  const plain: Record<string, unknown>[] = [
    {},
    { cniVersion: '1.0.0' },
    { cniVersion: '' },
    { name: 'lo' },
    { type: 'loopback' },
    { cniVersion: '0.3.1', name: 'cni-loopback', type: 'loopback' },
    { type: 'loopback', name: 'n', cniVersion: '1.1.0' },
    { name: '', type: '' },
  ];
  for (const raw of plain)
    it(`decodes ${JSON.stringify(raw)} as the schema does`, () => {
      const fast = plainNetConf(raw);
      expect(fast).toBeDefined();
      expect(fast).toStrictEqual(viaSchema(raw)!.value);
      expect(Object.keys(fast!)).toEqual(viaSchema(raw)!.keys);
      expect(Object.getPrototypeOf(fast)).toBe(Object.prototype);
    });

  const other: Record<string, unknown>[] = [
    { cniVersion: 1 },
    { name: null },
    { type: undefined },
    { CNIVersion: '1.0.0' },
    { Name: 'n' },
    { cniVersion: '1.0.0', name: 'n', type: 'loopback', ipam: {} },
    { cniVersion: '1.0.0', prevResult: {} },
    { cniVersion: '1.0.0', extra: 'x' },
    JSON.parse('{"__proto__": "x", "name": "n"}'),
  ];
  for (const raw of other)
    it(`leaves ${JSON.stringify(raw)} to the schema`, () => expect(plainNetConf(raw)).toBeUndefined());
});
