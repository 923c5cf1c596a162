import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { implementations, type PluginRun } from '@tscni/net/testing';
import { addresses, invoke, leases, netConf, pool, scratchDir } from './harness';

const [ours] = implementations('host-local');

describe('host-local (tscni) under concurrency', () => {
  const scratch = scratchDir('hl-conc');
  afterAll(() => scratch.remove());
  const ok = (r: PluginRun) => expect(r.code, r.stdout + r.stderr).toBe(0);

  it('200 ADDs, 16 at a time, give 200 distinct addresses; 200 parallel DELs leave no reservation', { timeout: 180_000 }, async () => {
    const c = netConf(scratch.dir, { ranges: [[{ subnet: '10.50.0.0/24' }]] });
    const adds = await pool(
      16,
      Array.from({ length: 200 }, (_, i) => () => invoke(ours.bin, 'ADD', c, { cid: `conc-${i}` })),
    );
    adds.forEach(ok);
    const got = adds.map((r) => addresses(r)[0]);
    expect(new Set(got).size).toBe(200);
    const onDisk = leases(scratch.dir, c.name);
    expect(Object.keys(onDisk)).toHaveLength(200);
    adds.forEach((r, i) => expect(onDisk[addresses(r)[0].split('/')[0]]).toBe(`conc-${i}\r\neth0`));

    const dels = await Promise.all(Array.from({ length: 200 }, (_, i) => invoke(ours.bin, 'DEL', c, { cid: `conc-${i}` })));
    dels.forEach(ok);
    expect(leases(scratch.dir, c.name)).toEqual({});
  });

  it('SIGKILL at random points of many allocations never leaves an empty or half-written lease', { timeout: 180_000 }, async () => {
    const c = netConf(scratch.dir, { ranges: [[{ subnet: '10.51.0.0/16' }]] });
    const stdin = JSON.stringify(c);
    // How long an ADD takes at this parallelism on this machine right now: the kills are spread around it.
    const t0 = Date.now();
    (await pool(8, Array.from({ length: 8 }, (_, i) => () => invoke(ours.bin, 'ADD', c, { cid: `warm-${i}` })))).forEach(ok);
    const typical = Math.max(30, (Date.now() - t0) / 1.5);
    let killed = 0;
    let finished = 0;
    const runAndKill = (i: number) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(ours.bin, [], {
          env: { PATH: process.env.PATH, CNI_COMMAND: 'ADD', CNI_CONTAINERID: `kill-${i}`, CNI_NETNS: '/var/run/netns/unused', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' },
          stdio: ['pipe', 'ignore', 'ignore'],
        });
        child.on('error', reject);
        child.stdin.on('error', () => {});
        child.stdin.end(stdin);
        // Spread the kills from early start-up to past a typical exit: some land in the locked section.
        const timer = setTimeout(() => child.kill('SIGKILL'), typical * (0.3 + ((i * 37) % 100) / 80));
        child.on('exit', (code, signal) => {
          clearTimeout(timer);
          if (signal === 'SIGKILL') killed++;
          else if (code === 0) finished++;
          resolve();
        });
      });
    await pool(8, Array.from({ length: 160 }, (_, i) => () => runAndKill(i)));
    expect(killed, `killed ${killed}, finished ${finished}`).toBeGreaterThan(10);
    expect(finished, `killed ${killed}, finished ${finished}`).toBeGreaterThan(10);

    const dir = join(scratch.dir, c.name);
    for (const [ip, content] of Object.entries(leases(scratch.dir, c.name))) {
      expect(content, ip).toMatch(/^(kill|warm)-\d+\r\neth0$/);
    }
    const last = readFileSync(join(dir, 'last_reserved_ip.0'), 'utf8');
    expect(last).toMatch(/^10\.51\.\d+\.\d+$/);
    // Every owner holds one address at most, and the next allocation works and sweeps leftover temp files.
    const owners = Object.values(leases(scratch.dir, c.name));
    expect(new Set(owners).size).toBe(owners.length);
    ok(await invoke(ours.bin, 'ADD', c, { cid: 'after-the-storm' }));
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});
