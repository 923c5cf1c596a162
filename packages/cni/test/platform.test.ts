import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtime } from '../src/platform';
import { spawnCollect } from '../src/platform-spawn';

describe('platform (under Node)', () => {
  it('is Node here', () => expect(runtime).toBe('node'));

  it('spawnCollect feeds stdin and collects stdout, stderr and the exit code', async () => {
    expect(await spawnCollect('sed', ['s/a/b/'], 'aaa\n')).toEqual({ code: 0, stdout: 'baa\n', stderr: '' });
    const bad = await spawnCollect('ls', ['/nonexistent-tscni']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/nonexistent-tscni/);
  });

  it('a program that cannot start resolves with code null and why', async () => {
    const r = await spawnCollect('/nonexistent-tscni/tool', []);
    expect(r.code).toBeNull();
    expect(r.error).toMatch(/ENOENT/);
  });

  it('hands fd3 to the child (what withFileLock gives flock(1))', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tscni-platform-'));
    const fd = openSync(join(dir, 'lock'), 'a');
    try {
      expect((await spawnCollect('flock', ['-x', '3'], undefined, fd)).code).toBe(0);
      // The lock stays with our open file description: another one cannot take it.
      expect((await spawnCollect('flock', ['-xn', join(dir, 'lock'), 'true'])).code).toBe(1);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const root = join(__dirname, '../../..');
const bunBin = join(root, 'node_modules/@oven/bun-linux-x64/bin/bun');

describe('platform (under Bun)', () => {
  // A tool that exits before reading its input (`ip -n` of a namespace that is gone) makes the write fail with EPIPE:
  // the answer is still its exit status and stderr, which a DEL takes as "already gone".
  it.skipIf(!existsSync(bunBin))('spawnCollect answers with the exit status when writing stdin fails', () => {
    const script = `
      const real = Bun.spawn;
      Bun.spawn = (opts) => {
        const p = real(opts);
        const epipe = () => { throw Object.assign(new Error('EPIPE: broken pipe, write'), { code: 'EPIPE' }); };
        return { stdout: p.stdout, stderr: p.stderr, exited: p.exited, stdin: { write: epipe, end: epipe } };
      };
      const { spawnCollect } = await import(${JSON.stringify(join(root, 'packages/cni/src/platform-spawn.ts'))});
      console.log(JSON.stringify(await spawnCollect('sh', ['-c', 'echo gone >&2; exit 3'], 'input')));`;
    const r = spawnSync(bunBin, ['-e', script], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ code: 3, stdout: '', stderr: 'gone\n' });
  });
});
