/**
 * @tscni/zod-run against zod 3.25, schema by schema: every schema the plugins, @tscni/cni and @tscni/net build
 * (bundled as a plugin is, see probe.ts) parses every input of a large corpus through @tscni/cni's goParse under
 * both, and the outcomes must be identical: success, the parsed value (key order and undefined keys included), every
 * issue (code, path, message and every other field, a union's nested issues too) and goDecode's output.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mutations, POOL, sample } from './corpus';
import { probes, ROOT, schemaFiles, zodImporters, type Probe } from './probe';

let work: string;
let real: Probe;
let subset: Probe;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'zod-run-'));
  ({ real, subset } = await probes(work));
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A canonical text of a value: key order, undefined, -0, a prototype and errors (by name and issues) all show. */
function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number' && Object.is(v, -0)) return '-0';
  if (v instanceof Error) return `${v.name}(${show((v as { issues?: unknown }).issues)})`;
  if (Array.isArray(v)) return `[${v.map(show).join(',')}]`;
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) !== Object.prototype)
    return `proto(${show(Object.getPrototypeOf(v))})${show({ ...v })}`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .map((k) => `${JSON.stringify(k)}:${show((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return typeof v === 'function' ? 'function' : JSON.stringify(v);
}

function outcome(p: Probe, schema: unknown, input: unknown): string {
  try {
    const decoded = show(p.goDecode(schema, input));
    const r = p.goParse(schema, input);
    return `${decoded} → ${r.success ? `ok ${show(r.data)}` : `issues ${show(r.error!.issues)}`}`;
  } catch (e) {
    return `throws ${(e as Error).message}`;
  }
}

const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: '/run/netns/p' }],
  ips: [{ address: '10.1.0.2/24', gateway: '10.1.0.1', interface: 0 }],
};

/** Inputs every schema gets: the bad-input corpus's configs and the differential corpus's base configs. */
function sharedInputs(): unknown[] {
  const hardening = JSON.parse(readFileSync(join(ROOT, 'e2e/hardening/corpus.json'), 'utf8')) as { stdin: unknown }[];
  const configs = hardening.flatMap((c) => {
    if (typeof c.stdin !== 'string') return [];
    try {
      return [JSON.parse(c.stdin)];
    } catch {
      return [];
    }
  });
  const bases = Object.values(real.CORPUS).map((c) => c.base({ prevResult, pod: '/run/netns/p' }));
  return [...configs, ...bases, ...POOL, undefined];
}

/** A differential corpus's base config mutated, for the schemas of its plugin (`host-local-ranges`: host-local's) and @tscni/cni's. */
function pluginInputs(schemaName: string): unknown[] {
  const dir = /^packages\/plugins\/\w+\/([^/]+)\//.exec(schemaName)?.[1];
  return Object.entries(real.CORPUS)
    .filter(([key]) => schemaName.startsWith('packages/cni/') || (dir && (key === dir || key.startsWith(`${dir}-`))))
    .flatMap(([, c]) => mutations(c.base({ prevResult, pod: '/run/netns/p' })));
}

type Lazy = { schema: unknown };

describe('@tscni/zod-run parses as zod 3.25 does', () => {
  it('finds the schemas of every plugin, @tscni/cni and @tscni/net, in both bundles', () => {
    const names = Object.keys(real.schemas);
    expect(Object.keys(subset.schemas)).toEqual(names);
    for (const must of [
      'packages/cni/src/types.ts:NetConfSchema',
      'packages/cni/src/types.ts:ResultSchema',
      'packages/net/src/pod/link-conf.ts:linkNameField',
      'packages/plugins/main/bridge/src/config.ts:BridgeConfSchema',
      'packages/plugins/ipam/host-local/src/config.ts:HostLocalNetConfSchema',
      'packages/plugins/meta/portmap/src/config.ts:PortMapDelSchema',
    ])
      expect(names).toContain(must);
    expect(names.length).toBeGreaterThan(50);
  });

  it('covers every file of a plugin bundle that uses zod', async () => {
    // files that build schemas only inside the lazy schemas found (helpers), or inline ones the probe lists
    const helpers = ['go-json.ts', 'lazy-schema.ts', 'requested-ips.ts'].map((f) => `packages/cni/src/${f}`);
    const covered = new Set([
      ...schemaFiles().map((f) => f.slice(ROOT.length + 1)),
      ...helpers,
      'packages/plugins/ipam/dhcp/src/dhcp.ts',
    ]);
    const importers = await zodImporters();
    expect(importers.length).toBeGreaterThan(20);
    expect(importers.filter((f) => !covered.has(f))).toEqual([]);
  }, 120_000);

  it('builds every schema, every nested one included (a zod feature the subset lacks throws here)', () => {
    const seen = new Set<unknown>();
    const walk = (s: { _def: Record<string, unknown> } | undefined): void => {
      if (!s || seen.has(s)) return;
      seen.add(s);
      const d = s._def;
      if (typeof d.getter === 'function') walk(d.getter());
      if (typeof d.shape === 'function') Object.values(d.shape() as object).forEach(walk);
      for (const k of ['innerType', 'schema', 'in', 'out', 'type', 'valueType'] as const)
        walk(d[k] as { _def: Record<string, unknown> });
      if (Array.isArray(d.options)) d.options.forEach(walk);
    };
    for (const s of Object.values(subset.schemas)) walk((s as Lazy).schema as { _def: Record<string, unknown> });
    expect(seen.size).toBeGreaterThan(Object.keys(subset.schemas).length);
  });

  it('gives identical results for every schema over its own mutations and the shared corpus', async () => {
    const shared = sharedInputs();
    let compared = 0;
    const mismatches: string[] = [];
    for (const [name, realSchema] of Object.entries(real.schemas)) {
      await new Promise(setImmediate); // let vitest's worker talk to its parent between schemas
      const subsetSchema = subset.schemas[name];
      const own = mutations(sample((realSchema as Lazy).schema as Parameters<typeof sample>[0]));
      for (const input of [...own, ...shared, ...pluginInputs(name)]) {
        const a = outcome(real, realSchema, input);
        const b = outcome(subset, subsetSchema, input);
        compared++;
        if (a !== b && mismatches.length < 5)
          mismatches.push(`${name}\n  input  ${show(input)}\n  zod    ${a}\n  subset ${b}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(250_000);
  }, 900_000);
});
