import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM build script
import { stage } from '../../tools/stage-packages.mjs';

// Every plugin is publishable on its own: npm pack would ship exactly the executable, README, LICENSE.
describe('plugin packages', () => {
  let staged: { name: string; dir: string }[] = [];
  beforeAll(async () => {
    staged = await stage();
  }, 120_000);

  it('stages one package per plugin', () => {
    expect(staged.map((s) => s.name)).toContain('loopback');
  });

  it('each packs to exactly its executable, README.md, LICENSE and package.json', () => {
    for (const { name, dir } of staged) {
      const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const files = JSON.parse(r.stdout)[0].files as { path: string; mode: number }[];
      expect(files.map((f) => f.path).sort(), name).toEqual(['LICENSE', 'README.md', name, 'package.json'].sort());
      const bin = files.find((f) => f.path === name)!;
      expect(bin.mode & 0o111, `${name} is executable`).not.toBe(0);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      expect(pkg.name).toBe(`@tscni/${name}`);
      expect(pkg.bin).toEqual({ [name]: `./${name}` });
      expect(pkg.dependencies).toBeUndefined();
    }
  });

  it('the packed executable runs on its own (VERSION)', () => {
    for (const { name, dir } of staged) {
      const r = spawnSync(join(dir, name), [], {
        env: { PATH: process.env.PATH, CNI_COMMAND: 'VERSION' },
        encoding: 'utf8',
      });
      expect(r.status, `${name}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout).supportedVersions, name).toContain('1.0.0');
    }
  });
});
