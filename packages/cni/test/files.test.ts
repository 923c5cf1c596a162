/**
 * @tscni/cni/files against node:fs on real files: the same scenario (fixtures/files-scenario.ts) through plain
 * node:fs under Node (the reference: what the callers did before), through the module under Node (its node:fs
 * fallback) and through the module under Bun (raw system calls), each in a directory of its own. Every step's result
 * and error (code, errno, syscall, path, dest, message) and the tree left behind (types, modes, link counts,
 * contents) must be the reference's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as files from '../src/files';
import { nodeOps, runScenario, tree, type Step } from './fixtures/files-scenario';

const BUN = join(import.meta.dirname, '../../../node_modules/@oven/bun-linux-x64/bin/bun');
const dirs: string[] = [];
const fresh = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'tscni-files-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const referenceDir = fresh();
const reference = runScenario(nodeOps, referenceDir);

describe('@tscni/cni/files', () => {
  it('the reference run meets every case it is meant to (node:fs)', () => {
    const codes = Object.fromEntries(
      reference.map(([name, r]) => [name, (r as { error?: { code: string } }).error?.code ?? 'ok']),
    );
    expect(codes).toMatchObject({
      'mkdirp over a file': 'EEXIST',
      'mkdirp under a file': 'ENOTDIR',
      'readText missing': 'ENOENT',
      'readText a dir': 'EISDIR',
      'writeNewText a/new again': 'EEXIST',
      'link new → f (exists)': 'EEXIST',
      'rename new over f': 'ok',
      'unlink missing': 'ENOENT',
      'readDir missing': 'ENOENT',
      'readDir a file': 'ENOTDIR',
      'closeFile a bad descriptor': 'EBADF',
    });
  });

  it('under Node (its node:fs fallback) matches node:fs', () => {
    const dir = fresh();
    expect(runScenario(files, dir)).toEqual(reference);
    expect(tree(dir)).toEqual(tree(referenceDir));
  });

  it.skipIf(!existsSync(BUN))('under Bun (raw system calls) matches node:fs under Node', () => {
    const dir = fresh();
    const r = spawnSync(BUN, [join(import.meta.dirname, 'fixtures/files-under-bun.ts'), dir], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { raw: boolean; steps: Step[] };
    expect(out.raw).toBe(true);
    expect(Object.fromEntries(out.steps)).toEqual(Object.fromEntries(reference));
    expect(tree(dir)).toEqual(tree(referenceDir));
  });
});
