/**
 * withFileLock as tscni-plugind and the CRI harness use it: many plugin calls of one Bun process on one lock file
 * (host-local's). They take it in the order they asked, in this process, and only the first in line waits for
 * another process through flock(1) — not every caller polling flock(2) and then spawning a flock(1) of its own.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(__dirname, '../../..');
const bunBin = join(root, 'node_modules/@oven/bun-linux-x64/bin/bun');
const dir = mkdtempSync(join(tmpdir(), 'tscni-lock-turns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Five callers at once, each holding the lock 50 ms (longer than the in-process tries' ≈ 30 ms). */
const SCRIPT = `
  const real = Bun.spawn;
  const spawned = [];
  Bun.spawn = (opts) => (spawned.push((opts.cmd ?? opts)[0]), real(opts));
  const { withFileLock } = await import(${JSON.stringify(join(root, 'packages/net/src/host/lock.ts'))});
  const log = [];
  let firstIn = 0;
  await Promise.all(['a', 'b', 'c', 'd', 'e'].map((tag) =>
    withFileLock(process.argv[1], async () => {
      firstIn ||= Date.now();
      log.push(tag + '>');
      await Bun.sleep(50);
      log.push('<' + tag);
    })));
  console.log(JSON.stringify({ log: log.join(' '), spawned, firstIn }));`;

function run(lock: string): { log: string; spawned: string[]; firstIn: number } {
  const r = spawnSync(bunBin, ['-e', SCRIPT, lock], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

describe.skipIf(!existsSync(bunBin))('withFileLock under Bun: one process, many callers', () => {
  it('they take the lock in turn, in the order they asked, with no process spawned', () => {
    const lock = join(dir, 'free');
    const r = run(lock);
    expect(r.log).toBe('a> <a b> <b c> <c d> <d e> <e');
    expect(r.spawned).toEqual([]);
  });

  it('held by another process: the first in line waits with one flock(1), the others behind it', async () => {
    const lock = join(dir, 'held');
    writeFileSync(lock, '');
    // The other process writes the time (ms) just before it lets go: nobody here may be in before that.
    const released = join(dir, 'released');
    spawn('flock', ['-x', lock, 'sh', '-c', 'sleep 0.3; date +%s%3N > "$1"', 'sh', released], { stdio: 'ignore' });
    while (spawnSync('flock', ['-n', lock, 'true']).status === 0) await new Promise((r) => setTimeout(r, 10));
    const r = run(lock);
    expect(r.log).toBe('a> <a b> <b c> <c d> <d e> <e');
    expect(r.spawned).toEqual(['flock']);
    expect(r.firstIn).toBeGreaterThanOrEqual(Number(readFileSync(released, 'utf8')));
  });
});
