import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { implementations, type PluginRun } from '@tscni/testing/node';
import { addresses, invoke, leases, netConf, pool, scratchDir } from './harness';

const [ours] = implementations('host-local');

describe('host-local (tscni) under concurrency', () => {
  const scratch = scratchDir('hl-conc');
  afterAll(() => scratch.remove());
  const ok = (r: PluginRun) => expect(r.code, r.stdout + r.stderr).toBe(0);

  it(
    '200 ADDs, 16 at a time, give 200 distinct addresses; 200 parallel DELs leave no reservation',
    { timeout: 180_000 },
    async () => {
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

      const dels = await Promise.all(
        Array.from({ length: 200 }, (_, i) => invoke(ours.bin, 'DEL', c, { cid: `conc-${i}` })),
      );
      dels.forEach(ok);
      expect(leases(scratch.dir, c.name)).toEqual({});
    },
  );

  it(
    'SIGKILL at random points of many allocations never leaves an empty or half-written lease',
    { timeout: 180_000 },
    async () => {
      const c = netConf(scratch.dir, { ranges: [[{ subnet: '10.51.0.0/16' }]] });
      const stdin = JSON.stringify(c);
      // How long an ADD takes at this parallelism on this machine right now: the kills are spread around it.
      const t0 = Date.now();
      (
        await pool(
          8,
          Array.from({ length: 8 }, (_, i) => () => invoke(ours.bin, 'ADD', c, { cid: `warm-${i}` })),
        )
      ).forEach(ok);
      const typical = Math.max(30, (Date.now() - t0) / 1.5);
      const dir = join(scratch.dir, c.name);
      let killed = 0;
      let finished = 0;
      const runAndKill = (cid: string, killAfterMs: number) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(ours.bin, [], {
            env: {
              PATH: process.env.PATH,
              CNI_COMMAND: 'ADD',
              CNI_CONTAINERID: cid,
              CNI_NETNS: '/var/run/netns/unused',
              CNI_IFNAME: 'eth0',
              CNI_PATH: '/usr/lib/cni',
            },
            stdio: ['pipe', 'ignore', 'ignore'],
          });
          child.on('error', reject);
          child.stdin.on('error', () => {});
          child.stdin.end(stdin);
          const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          child.on('exit', (code, signal) => {
            clearTimeout(timer);
            if (signal === 'SIGKILL') killed++;
            else if (code === 0) finished++;
            resolve();
          });
        });

      // 1. Kills spread from early start-up to past a typical exit.
      await pool(
        8,
        Array.from({ length: 80 }, (_, i) => () => runAndKill(`kill-${i}`, typical * (0.3 + ((i * 37) % 100) / 80))),
      );
      // 2. Kills aimed at the locked section: hold the lock while 8 ADDs queue on it, then kill them a few ms
      //    apart just after it is released, while they take their turns writing leases.
      for (let round = 0; round < 5; round++) {
        const holdMs = Math.round(typical * 1.5);
        const holder = spawn('flock', ['-x', join(dir, 'lock'), 'sleep', (holdMs / 1000).toFixed(3)], {
          stdio: 'ignore',
        });
        const released = new Promise((r) => holder.on('exit', r));
        await new Promise((r) => setTimeout(r, 10));
        await Promise.all([
          released,
          ...Array.from({ length: 8 }, (_, j) => runAndKill(`locked-${round}-${j}`, holdMs + 2 + j * 4 + round)),
        ]);
      }
      expect(killed, `killed ${killed}, finished ${finished}`).toBeGreaterThan(10);
      expect(finished, `killed ${killed}, finished ${finished}`).toBeGreaterThan(10);

      for (const [ip, content] of Object.entries(leases(scratch.dir, c.name))) {
        expect(content, ip).toMatch(/^(kill-\d+|warm-\d+|locked-\d+-\d+)\r\neth0$/);
      }
      const last = readFileSync(join(dir, 'last_reserved_ip.0'), 'utf8');
      expect(last).toMatch(/^10\.51\.\d+\.\d+$/);
      // Every owner holds one address at most, and the next allocation works and sweeps leftover temp files.
      const owners = Object.values(leases(scratch.dir, c.name));
      expect(new Set(owners).size).toBe(owners.length);
      ok(await invoke(ours.bin, 'ADD', c, { cid: 'after-the-storm' }));
      expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
    },
  );
});
