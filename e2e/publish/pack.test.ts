import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM build script
import { SUITE_PACKAGE, stage } from '../../tools/stage-packages.mjs';

// What a release publishes (tools/stage-packages.mjs): @tscni/<type>, one plugin's Node bundle each, and
// @tscni/cni-plugins, every plugin of the switch's runtime — under bun the one executable, shipped once, each plugin
// name a bin pointing at it. Checked with npm itself: what `npm pack` would ship and what `npm i -g` puts on PATH.
interface Staged {
  name: string;
  dir: string;
  runtime: 'node' | 'bun';
}
interface Packed {
  name: string;
  files: { path: string; mode: number }[];
}

const npm = (args: string[]) => spawnSync('npm', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
const pkgJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

describe('npm packages', () => {
  let plugins: Staged[] = [];
  let suite: Staged;
  let names: string[] = [];
  const prefixes: string[] = [];
  beforeAll(async () => {
    const staged: Staged[] = await stage();
    plugins = staged.filter((s) => s.name !== SUITE_PACKAGE);
    suite = staged.find((s) => s.name === SUITE_PACKAGE)!;
    names = plugins.map((p) => p.name).sort();
  }, 300_000);
  afterAll(() => {
    for (const p of prefixes) rmSync(p, { recursive: true, force: true });
  });

  // npm pack gzips every byte to report sizes and an integrity, but what it ships depends only on package.json and
  // the directory's names: the Bun executable (112 MB, half a minute of gzip on a loaded box) is packed as a stand-in
  // of the same name and mode. The npm i -g test below runs the real one.
  function packable(s: Staged): string {
    if (s.runtime !== 'bun') return s.dir;
    const dir = mkdtempSync(join(tmpdir(), 'tscni-pack-'));
    prefixes.push(dir);
    for (const f of readdirSync(s.dir)) {
      const mode = statSync(join(s.dir, f)).mode & 0o777;
      if (statSync(join(s.dir, f)).size > 1 << 20) writeFileSync(join(dir, f), '#!/bin/sh\n', { mode });
      else copyFileSync(join(s.dir, f), join(dir, f));
    }
    return dir;
  }

  it('stages one package per plugin and @tscni/cni-plugins with every plugin name as a bin', () => {
    expect(names).toContain('loopback');
    expect(names).toContain('dhcp');
    expect(suite, 'cni-plugins staged').toBeDefined();
    const pkg = pkgJson(suite.dir);
    expect(pkg.name).toBe('@tscni/cni-plugins');
    expect(Object.keys(pkg.bin).sort()).toEqual(names);
    if (suite.runtime === 'bun') {
      // Shipped once: every name is the same file.
      expect(new Set(Object.values(pkg.bin))).toEqual(new Set(['./tscni-cni']));
      expect(pkg.cpu).toEqual(['x64']);
      expect(pkg.engines).toBeUndefined();
    } else expect(pkg.engines).toEqual({ node: '>=20' });
    for (const p of plugins) {
      const own = pkgJson(p.dir);
      expect(own.name).toBe(`@tscni/${p.name}`);
      expect(own.bin).toEqual({ [p.name]: `./${p.name}` });
      expect(own.engines, p.name).toEqual({ node: '>=20' });
      expect(p.runtime).toBe('node');
    }
  });

  it('each packs to exactly its executables, README.md, LICENSE and package.json, with no dependencies', () => {
    // One npm process for every package (an npm start costs seconds on a loaded box).
    const r = npm(['pack', '--dry-run', '--json', '--ignore-scripts', ...[...plugins, suite].map(packable)]);
    expect(r.status, r.stderr).toBe(0);
    const packed = new Map((JSON.parse(r.stdout) as Packed[]).map((p) => [p.name, p]));
    for (const s of [...plugins, suite]) {
      const pkg = pkgJson(s.dir);
      const files = packed.get(pkg.name)?.files;
      expect(files, `${pkg.name} packed`).toBeDefined();
      const executables = [...new Set(Object.values(pkg.bin as Record<string, string>).map((b) => b.slice(2)))];
      expect(files!.map((f) => f.path).sort(), pkg.name).toEqual(
        [...executables, 'README.md', 'LICENSE', 'package.json'].sort(),
      );
      for (const e of executables)
        expect(files!.find((f) => f.path === e)!.mode & 0o111, `${pkg.name}: ${e} is executable`).not.toBe(0);
      expect(pkg.dependencies, pkg.name).toBeUndefined();
    }
  });

  // Two prefixes: a single-plugin package and cni-plugins install the same names (npm refuses the second).
  it.each([
    ['the single-plugin packages', () => plugins],
    ['@tscni/cni-plugins', () => [suite]],
  ])('npm i -g of %s puts every plugin on PATH, each acting as the plugin it is named after', (_, set) => {
    const prefix = mkdtempSync(join(tmpdir(), 'tscni-npm-'));
    prefixes.push(prefix);
    const dirs = set().map((s) => s.dir);
    const r = npm([
      'install',
      '-g',
      '--prefix',
      prefix,
      '--offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      ...dirs,
    ]);
    expect(r.status, r.stderr).toBe(0);
    for (const name of names) {
      // No CNI_COMMAND: the plugin says what it is (a multi-call executable that missed its name would not).
      const about = spawnSync(join(prefix, 'bin', name), [], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
      expect(about.status, `${name}: ${about.stderr}`).toBe(0);
      expect(about.stderr, name).toContain(`tscni ${name} `);
    }
    const version = spawnSync(join(prefix, 'bin', 'bridge'), [], {
      env: { PATH: process.env.PATH, CNI_COMMAND: 'VERSION' },
      encoding: 'utf8',
    });
    expect(version.status, `${version.stdout}${version.stderr}`).toBe(0);
    expect(JSON.parse(version.stdout).supportedVersions).toContain('1.0.0');
    if (set()[0].runtime === 'bun')
      expect(new Set(names.map((n) => realpathSync(join(prefix, 'bin', n))))).toEqual(
        new Set([realpathSync(join(suite.dir, 'tscni-cni'))]),
      );
  });
});
