import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { goParse } from '@tscni/cni/go-json';
import { plainDecode, type PlainObject } from '@tscni/cni/plain-decode';

export type RawConfig = Record<string, unknown>;

const CORPUS = join(__dirname, '../../../e2e/hardening/corpus.json');

/** The JSON-object configs of the bad-input corpus (e2e/hardening) for one plugin type. */
export function corpusConfigs(plugin: string): RawConfig[] {
  const corpus = JSON.parse(readFileSync(CORPUS, 'utf8')) as { plugin: string; stdin: unknown }[];
  return corpus.flatMap((c) => {
    if (c.plugin !== plugin || typeof c.stdin !== 'string') return [];
    try {
      const v: unknown = JSON.parse(c.stdin);
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? [v as RawConfig] : [];
    } catch {
      return [];
    }
  });
}

/**
 * A schema-free config decode held to the schema: whenever `plainDecode` answers, goParse succeeds with the same
 * value, key order included; it answers every one of `ordinary`, and at least `minShare` of `inputs`.
 */
export function expectPlainDecodeParity(
  desc: PlainObject,
  schema: Parameters<typeof goParse>[0],
  inputs: RawConfig[],
  ordinary: RawConfig[],
  minShare: number,
): void {
  let taken = 0;
  for (const raw of inputs) {
    const fast = plainDecode(desc, raw);
    if (fast === undefined) continue;
    taken++;
    const slow = goParse(schema, raw);
    expect(slow.success, JSON.stringify(raw)).toBe(true);
    expect(fast).toStrictEqual(slow.data);
    expect(JSON.stringify(fast)).toBe(JSON.stringify(slow.data));
  }
  for (const b of ordinary) expect(plainDecode(desc, b)).toBeDefined();
  expect(inputs.length).toBeGreaterThan(3000);
  expect(taken).toBeGreaterThan(inputs.length * minShare);
}
