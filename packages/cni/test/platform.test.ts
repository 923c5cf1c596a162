import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
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
