/**
 * The same sources bundled twice, as tools/bundle.mjs bundles a plugin: once with the real zod, once with `zod`
 * aliased to this project. Each bundle exports every `lazySchema(…)` the hot path declares (packages/cni,
 * packages/net, every plugin and the embedded IPAM; an esbuild plugin appends an export of them to each file that
 * has any, exported or not), the schemas plugins build inline, @tscni/cni's goParse/goDecode, `z` itself, and the
 * differential corpus of e2e/differential. So the test compares what a plugin bundle runs, schema by schema.
 */
import { build, type Plugin } from 'esbuild';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../../..');
const SUBSET = join(ROOT, 'packages/zod-run/src/index.ts');
const LAZY = /^(?:export\s+)?const\s+(\w+)\s*=\s*lazySchema\(/gm;

/** Every source file of the hot path that declares a lazy schema. */
export function schemaFiles(): string[] {
  const dirs = [join(ROOT, 'packages/cni/src'), join(ROOT, 'packages/net/src')];
  for (const kind of readdirSync(join(ROOT, 'packages/plugins')))
    for (const p of readdirSync(join(ROOT, 'packages/plugins', kind)))
      dirs.push(join(ROOT, 'packages/plugins', kind, p, 'src'));
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && /=\s*lazySchema\(/.test(readFileSync(p, 'utf8')))
        files.push(p);
    }
  };
  dirs.forEach(walk);
  return files.sort();
}

const exportSchemas: Plugin = {
  name: 'export-lazy-schemas',
  setup(b) {
    b.onLoad({ filter: /\/packages\/.*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const names = [...text.matchAll(LAZY)].map((m) => m[1]);
      if (!names.length) return undefined;
      return { contents: `${text}\nexport const __lazySchemas = { ${names.join(', ')} };\n`, loader: 'ts' };
    });
  },
};

/** Every source file a plugin bundle holds that imports zod (from each plugin's entry, as tools/bundle.mjs bundles it). */
export async function zodImporters(): Promise<string[]> {
  const found = new Set<string>();
  for (const kind of readdirSync(join(ROOT, 'packages/plugins')))
    for (const p of readdirSync(join(ROOT, 'packages/plugins', kind))) {
      const entry = join(ROOT, 'packages/plugins', kind, p, 'src/main.ts');
      if (!existsSync(entry)) continue;
      const { metafile } = await build({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        write: false,
        outfile: join(ROOT, 'unused.cjs'),
        absWorkingDir: ROOT, // metafile paths relative to the repository
        logLevel: 'error',
        metafile: true,
      });
      for (const [file, input] of Object.entries(metafile.inputs))
        if (input.imports.some((i) => i.original === 'zod')) found.add(file);
    }
  return [...found].sort();
}

export interface Probe {
  schemas: Record<string, unknown>;
  goParse(schema: unknown, value: unknown): { success: boolean; data?: unknown; error?: { issues: unknown[] } };
  goDecode(schema: unknown, value: unknown): unknown;
  z: Record<string, (...args: unknown[]) => unknown>;
  CORPUS: Record<string, { base: (ctx: { prevResult?: unknown; pod: string }) => Record<string, unknown> }>;
}

/** Bundle the probe with the real zod and with the subset; returns both, loaded. */
export async function probes(workDir: string): Promise<{ real: Probe; subset: Probe }> {
  const files = schemaFiles();
  const src = (p: string) => JSON.stringify(p);
  const entry = join(workDir, 'probe.ts');
  writeFileSync(
    entry,
    [
      `import { z } from 'zod';`,
      ...files.map((f, i) => `import { __lazySchemas as m${i} } from ${src(f)};`),
      `import { IpamSchema as dhcpIpam } from ${src(join(ROOT, 'packages/plugins/ipam/dhcp/src/conf.ts'))};`,
      `export { goParse, goDecode } from ${src(join(ROOT, 'packages/cni/src/go-json.ts'))};`,
      `export { CORPUS } from ${src(join(ROOT, 'e2e/differential/corpus.ts'))};`,
      `export { z };`,
      `const lazy = { ${files.map((f, i) => `${JSON.stringify(relative(ROOT, f))}: m${i}`).join(', ')} };`,
      `export const schemas = {};`,
      `for (const [file, named] of Object.entries(lazy)) for (const [n, s] of Object.entries(named)) schemas[file + ':' + n] = s;`,
      // built inline by the dhcp plugin's gc/status (not a lazySchema)
      `schemas['packages/plugins/ipam/dhcp/src/dhcp.ts:inline'] = z.lazy(() => z.object({ ipam: dhcpIpam }).passthrough());`,
    ].join('\n'),
  );
  const bundle = async (label: string, alias: Record<string, string>) => {
    const outfile = join(workDir, `${label}.cjs`);
    await build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      logLevel: 'error',
      nodePaths: [join(ROOT, 'node_modules')],
      alias,
      plugins: [exportSchemas],
    });
    return createRequire(import.meta.url)(outfile) as Probe;
  };
  return { real: await bundle('real', {}), subset: await bundle('subset', { zod: SUBSET }) };
}
