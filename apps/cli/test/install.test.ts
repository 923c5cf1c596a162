import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, TestNode, missingForKernelTests } from '@tscni/testing/node';
import { ourBuildName } from '@tscni/cni';
import { MULTICALL_NAME, install } from '../src/install/install';

const root = join(import.meta.dirname, '../../..');
// The Node bundles, whichever build the suites exec (tools/plugin-runtime.mjs): the Bun one is below.
const NODE_BIN = join(root, 'dist/cni-bin');
const tmp = mkdtempSync(join(tmpdir(), 'tscni-install-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('tscni install (bundled scripts)', () => {
  it('installs every plugin, replaces its own files and refuses foreign ones without --force', () => {
    const dir = join(tmp, 'bin1');
    mkdirSync(dir);
    writeFileSync(join(dir, 'loopback'), '#!/bin/sh\necho reference\n', { mode: 0o755 });
    const first = install({ dir, from: NODE_BIN });
    expect(first.find((a) => a.name === 'loopback')).toMatchObject({ action: 'refused' });
    expect(first.find((a) => a.name === 'host-local')).toMatchObject({ action: 'installed' });
    expect(statSync(join(dir, 'host-local')).mode & 0o777).toBe(0o755);
    expect(readdirSync(dir).filter((f) => f.includes('tscni-tmp'))).toEqual([]);

    const again = install({ dir, from: NODE_BIN, plugins: ['host-local'] });
    expect(again).toEqual([expect.objectContaining({ name: 'host-local', action: 'replaced' })]);
    const forced = install({ dir, from: NODE_BIN, plugins: ['loopback'], force: true });
    expect(forced).toEqual([expect.objectContaining({ name: 'loopback', action: 'replaced' })]);
    const v = spawnSync(join(dir, 'loopback'), [], {
      env: { PATH: process.env.PATH, CNI_COMMAND: 'VERSION' },
      encoding: 'utf8',
    });
    expect(JSON.parse(v.stdout).supportedVersions).toContain('1.1.0');
  });

  it('rejects unknown or unsafe plugin names', () => {
    expect(() => install({ dir: join(tmp, 'bin2'), from: NODE_BIN, plugins: ['nope'] })).toThrow(
      /unknown plugin "nope"/,
    );
    expect(() => install({ dir: join(tmp, 'bin2'), from: NODE_BIN, plugins: ['../x'] })).toThrow(/invalid plugin name/);
  });
});

const missing = missingForKernelTests();
// The Bun executable (built, when stale, by the vitest global setup), installed by the CLI run by that executable
// itself (BUN_BE_BUN=1 makes it the bun CLI), as on a node without Node.js (docs/flannel.md).
const BUN_BIN = join(root, 'dist/bun/cni-bin');
const CLI_BUNDLE = join(root, 'dist/bin/tscni');
describe.skipIf(!!missing)(
  `the Bun executable: one multi-call file, installed and run on a PATH without node${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    const tag = 'bn';
    let dir: string;
    let node: TestNode;
    let noNodePath: string;
    beforeAll(() => {
      expect(existsSync(join(BUN_BIN, MULTICALL_NAME))).toBe(true);
      dir = join(tmp, tag);
      // Every system tool except node, npm and npx.
      noNodePath = join(tmp, `path-${tag}`);
      mkdirSync(noNodePath);
      for (const d of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
        for (const f of readdirSync(d)) {
          if (/^(node|nodejs|npm|npx|corepack)$/.test(f) || existsSync(join(noNodePath, f))) continue;
          symlinkSync(join(d, f), join(noNodePath, f));
        }
      }
      // --standalone: what scripts written for the Node SEA say; it is --runtime bun.
      const r = spawnSync(join(BUN_BIN, MULTICALL_NAME), [CLI_BUNDLE, 'install', dir, '--standalone', '--json'], {
        env: { PATH: noNodePath, BUN_BE_BUN: '1' },
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      const actions = JSON.parse(r.stdout) as { name: string; action: string }[];
      expect(actions[0]).toMatchObject({ name: MULTICALL_NAME, action: 'installed' });
      expect(actions.filter((a) => a.action !== 'installed')).toEqual([]);
      expect(actions.map((a) => a.name)).toEqual(expect.arrayContaining(['loopback', 'bridge', 'host-local', 'dhcp']));
      node = new TestNode(tag);
    }, 180_000);
    afterAll(() => node?.destroy());

    it('links every plugin to one file', () => {
      const ino = statSync(join(dir, MULTICALL_NAME)).ino;
      for (const name of ['loopback', 'host-local', 'bridge', 'dhcp']) expect(statSync(join(dir, name)).ino).toBe(ino);
      // The Bun build names its plugins itself (the list after its ELF image).
      for (const name of ['loopback', 'bridge']) expect(ourBuildName(join(dir, name))).toBe(name);
      expect(spawnSync('sh', ['-c', 'command -v node'], { env: { PATH: noNodePath } }).status).not.toBe(0);
    });

    it('loopback ADD/CHECK/DEL works without node on PATH', async () => {
      const pod = node.addPod();
      const env = {
        PATH: noNodePath,
        CNI_CONTAINERID: `${tag}-1`,
        CNI_NETNS: pod,
        CNI_IFNAME: 'lo',
        CNI_PATH: dir,
      };
      const conf = { cniVersion: '1.1.0', name: 'lo', type: 'loopback' };
      const add = await node.runPlugin(join(dir, 'loopback'), { ...env, CNI_COMMAND: 'ADD' }, conf);
      expect(add.code, add.stdout + add.stderr).toBe(0);
      expect(add.json.ips.map((i: { address: string }) => i.address)).toContain('127.0.0.1/8');
      expect(
        (
          await node.runPlugin(
            join(dir, 'loopback'),
            { ...env, CNI_COMMAND: 'CHECK' },
            { ...conf, prevResult: add.json },
          )
        ).code,
      ).toBe(0);
      expect((await node.runPlugin(join(dir, 'loopback'), { ...env, CNI_COMMAND: 'DEL' }, conf)).code).toBe(0);
    });

    it('bridge + host-local ADD/DEL works without node on PATH', async () => {
      const pod = node.addPod();
      const env = {
        PATH: noNodePath,
        CNI_CONTAINERID: `${tag}-2`,
        CNI_NETNS: pod,
        CNI_IFNAME: 'eth0',
        CNI_PATH: dir,
      };
      const conf = {
        cniVersion: '1.1.0',
        name: `${tag}-net`,
        type: 'bridge',
        bridge: `${tag}br0`,
        isGateway: true,
        ipam: { type: 'host-local', subnet: '10.199.0.0/24', dataDir: join(node.tmp, 'ipam') },
      };
      const add = await node.runPlugin(join(dir, 'bridge'), { ...env, CNI_COMMAND: 'ADD' }, conf);
      expect(add.code, add.stdout + add.stderr).toBe(0);
      expect(add.json.ips[0].address).toMatch(/^10\.199\.0\.\d+\/24$/);
      const del = await node.runPlugin(
        join(dir, 'bridge'),
        { ...env, CNI_COMMAND: 'DEL' },
        { ...conf, prevResult: add.json },
      );
      expect(del.code, del.stdout + del.stderr).toBe(0);
      expect(readdirSync(join(node.tmp, 'ipam', `${tag}-net`)).filter((f) => /^\d/.test(f))).toEqual([]);
    });
  },
);

describe('tscni install command line', () => {
  const CLI = join(root, 'dist/bin/tscni');
  it.skipIf(!existsSync(CLI))('takes --dir and --plugins a,b as the issue spells them, and prints what it did', () => {
    const dir = join(tmp, 'cli-flags');
    const r = spawnSync(CLI, ['install', '--dir', dir, '--runtime', 'node', '--plugins', 'loopback,host-local'], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`installed ${join(dir, 'loopback')}`);
    expect(readdirSync(dir).sort()).toEqual(['host-local', 'loopback']);
    const again = spawnSync(CLI, ['install', '--dir', dir, '--runtime', 'node', '--plugins', 'loopback'], {
      encoding: 'utf8',
    });
    expect(again.stdout).toContain(`replaced  ${join(dir, 'loopback')}`);
    const relative = spawnSync(CLI, ['install', '--dir', 'bin'], { encoding: 'utf8' });
    expect(relative.status).not.toBe(0);
  });

  it.skipIf(!existsSync(CLI))('--runtime bun installs the Bun executable once and hard-links each plugin to it', () => {
    const dir = join(tmp, 'cli-bun');
    const r = spawnSync(CLI, ['install', '--dir', dir, '--runtime', 'bun', '--plugins', 'loopback,host-local'], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['host-local', 'loopback', MULTICALL_NAME]);
    expect(statSync(join(dir, 'loopback')).ino).toBe(statSync(join(dir, MULTICALL_NAME)).ino);
    const v = spawnSync(join(dir, 'host-local'), [], { env: { CNI_COMMAND: 'VERSION' }, encoding: 'utf8' });
    expect(JSON.parse(v.stdout).supportedVersions).toContain('1.1.0');
    expect(spawnSync(CLI, ['install', '--dir', dir, '--runtime', 'deno'], { encoding: 'utf8' }).status).not.toBe(0);
  });
});
