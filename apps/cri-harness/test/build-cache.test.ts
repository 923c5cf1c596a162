// A cached rebuild must restore every file a build writes (the harness and the CLI included), not only the plugins.
// Runs in a throwaway copy of the workspace with its own Nx cache, so the worktree's dist/ and cache are untouched.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '../../..');
const copy = mkdtempSync(join(tmpdir(), 'tscni-nxcache-'));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

const SKIP = new Set(['node_modules', 'dist', '.nx', '.git', 'reports', 'coverage']);

function filesUnder(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      // A digest, not the bytes: the Bun executable is 112 MB. Links stay links (dist/bun/cni-bin has one per plugin).
      if (e.isDirectory()) walk(p);
      else if (e.isSymbolicLink()) out.set(relative(dir, p), `link:${readlinkSync(p)}`);
      else
        out.set(
          relative(dir, p),
          `${statSync(p).mode.toString(8)}:${createHash('sha256').update(readFileSync(p)).digest('hex')}`,
        );
    }
  };
  walk(dir);
  return out;
}

// Nx colours its log whenever the environment asks for colour (CI may set FORCE_COLOR), so read it without escapes.
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

function build(): string {
  return stripAnsi(
    execFileSync('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static'], {
      cwd: copy,
      env: {
        ...process.env,
        NX_DAEMON: 'false',
        NX_CACHE_DIRECTORY: join(copy, '.nx-cache'),
        NX_NO_CLOUD: 'true',
        NX_TUI: 'false',
      },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

it(
  'a cached rebuild after rm -rf dist restores every output, the harness and the CLI included',
  { timeout: 600_000 },
  () => {
    for (const entry of readdirSync(repo)) {
      if (!SKIP.has(entry))
        cpSync(join(repo, entry), join(copy, entry), {
          recursive: true,
          filter: (src) => !src.includes('/node_modules'),
        });
    }
    symlinkSync(join(repo, 'node_modules'), join(copy, 'node_modules'));

    build();
    const fresh = filesUnder(join(copy, 'dist'));
    for (const f of [
      'bin/tscni-cri',
      'bin/tscni',
      'bin/package.json',
      'bin/protos/runtime/v1/api.proto',
      'cni-bin/bridge',
      'cni-bin/package.json',
      'bun/cni-bin/tscni-cni',
      'bun/cni-bin/bridge',
      'bun/bin/tscni-cri',
    ]) {
      expect(fresh.has(f), `fresh build wrote dist/${f}`).toBe(true);
    }

    rmSync(join(copy, 'dist'), { recursive: true });
    const log = build();
    expect(log).toMatch(/cri-harness:build\s+\[local cache\]/);
    expect(log).toMatch(/cri-harness:build-bun\s+\[local cache\]/);
    expect(log).toMatch(/cli:build\s+\[local cache\]/);
    expect(log).toMatch(/cni-bun:build\s+\[local cache\]/);
    const restored = filesUnder(join(copy, 'dist'));
    expect([...restored.keys()].sort()).toEqual([...fresh.keys()].sort());
    for (const [f, content] of fresh)
      expect(restored.get(f) === content, `dist/${f} restored byte for byte`).toBe(true);
  },
);
