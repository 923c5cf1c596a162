// Under xtables lock contention (kube-proxy holding it) ADD and DEL must wait as long as it takes, like the
// reference, not give up after a few seconds. iptables-nft takes no lock, so this runs legacy iptables (a PATH
// of symlinks to it) with XTABLES_LOCKFILE pointing at a private lock file: the host's /run/xtables.lock is
// never held.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { implementations, missingForKernelTests } from '@tscni/testing/node';
import { NET, PortmapNode, type Pod } from './fixture';

const missing = missingForKernelTests([
  'ip',
  'nsenter',
  'nft',
  'flock',
  'iptables-legacy',
  'iptables-legacy-restore',
  'iptables-legacy-save',
]);
const HOLD_MS = 8000;
const ours = implementations('portmap')[0];

describe.skipIf(!!missing)(`portmap under xtables lock contention${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let pm: PortmapNode;
  let pod: Pod;
  let pathDir: string;
  let lockFile: string;
  let holder: ChildProcess | undefined;

  beforeAll(async () => {
    pm = new PortmapNode();
    pod = await pm.addPod();
    pathDir = join(pm.node.tmp, 'legacy-bin');
    mkdirSync(pathDir);
    for (const fam of ['iptables', 'ip6tables']) {
      for (const suffix of ['', '-restore', '-save'])
        symlinkSync(`/usr/sbin/${fam}-legacy${suffix}`, join(pathDir, fam + suffix));
    }
    lockFile = join(pm.node.tmp, 'xtables.lock');
    writeFileSync(lockFile, '');
  });
  afterAll(() => {
    if (holder?.pid && holder.exitCode === null) process.kill(holder.pid);
    pm?.destroy();
  });

  const env = (cmd: string) => ({
    ...pm.env(cmd, pod.containerID, pod.netns),
    PATH: `${pathDir}:${process.env.PATH}`,
    XTABLES_LOCKFILE: lockFile,
  });
  const conf = {
    cniVersion: '1.0.0',
    name: NET,
    type: 'portmap',
    backend: 'iptables',
    runtimeConfig: { portMappings: [{ hostPort: 8480, containerPort: 80, protocol: 'tcp' }] },
    prevResult: {} as unknown,
  };
  const legacyNat = () => pm.node.exec('iptables-legacy-save', ['-t', 'nat']);
  const lockFree = () => spawnSync('flock', ['-n', lockFile, 'true']).status === 0;

  /** Hold the lock for HOLD_MS in a child `flock … sleep`; resolves once it is held. */
  async function holdLock(): Promise<void> {
    holder = spawn('flock', ['-x', lockFile, 'sleep', String(HOLD_MS / 1000)], { stdio: 'ignore' });
    for (let i = 0; i < 100 && lockFree(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(lockFree()).toBe(false);
  }

  async function timed(cmd: string) {
    await holdLock();
    const start = Date.now();
    const r = await pm.node.runPlugin(ours.bin, env(cmd), { ...conf, prevResult: pod.result });
    return { ...r, ms: Date.now() - start };
  }

  it('ADD waits past 5 s for the lock and then installs its rules; DEL waits too and removes them', async () => {
    const add = await timed('ADD');
    expect(add.code, add.stdout + add.stderr).toBe(0);
    expect(add.ms).toBeGreaterThan(5500);
    expect(legacyNat()).toContain(`${pod.ip}:80`);
    const del = await timed('DEL');
    expect(del.code, del.stdout + del.stderr).toBe(0);
    expect(del.ms).toBeGreaterThan(5500);
    expect(legacyNat()).not.toContain(`${pod.ip}:80`);
  }, 60_000);
});
