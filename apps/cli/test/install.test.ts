import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode, addrsIn, linksIn, missingForKernelTests } from '@tscni/testing/node';
import { ourBuildName } from '@tscni/cni';
import { IN_PROCESS_NAMES } from '@tscni/in-process-plugins/names';
import { MULTICALL_NAME, SHIM_NAME, install, type InstallAction } from '../src/install/install';

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

// Stand-ins for the Bun executable and the shim, which `install` only copies, links and reads the trailer of: small
// ELF files (/bin/true's image) ending with the `// tscni-multicall:<names>` list the real ones carry.
const SERVED = ['loopback', 'bridge', 'host-local', 'portmap'];
const NOT_SERVED = ['dhcp', 'macvlan'];
const FAKE_NAMES = [...SERVED, ...NOT_SERVED];
function fakeElf(file: string, tag: string): void {
  const trailer = `\n// tscni-multicall:${FAKE_NAMES.join(',')}\n`;
  writeFileSync(file, Buffer.concat([readFileSync('/bin/true'), Buffer.from(`\n${tag}${trailer}`)]), { mode: 0o755 });
}
/** A build laid out as tools/bun-build.mjs (plain) or the shim's build (resident) lays it out. */
function fakeBuild(name: string, { resident = false, version = '1' } = {}): string {
  const from = join(tmp, name);
  mkdirSync(from);
  fakeElf(join(from, MULTICALL_NAME), `tscni-cni ${version}`);
  if (resident) fakeElf(join(from, SHIM_NAME), `tscni-shim ${version}`);
  for (const n of FAKE_NAMES) symlinkSync(resident ? SHIM_NAME : MULTICALL_NAME, join(from, n));
  return from;
}
const inode = (path: string): number => statSync(path).ino;
const byName = (actions: InstallAction[]): Record<string, string> =>
  Object.fromEntries(actions.map((a) => [a.name, a.action]));

describe('tscni install --resident (the shim for the plugins tscni-plugind runs)', () => {
  let resident: string;
  let plain: string;
  beforeAll(() => {
    resident = fakeBuild('fake-resident', { resident: true });
    plain = fakeBuild('fake-plain');
  });

  it('the stand-in names are the in-process ones and others', () => {
    for (const n of SERVED) expect(IN_PROCESS_NAMES).toContain(n);
    for (const n of NOT_SERVED) expect(IN_PROCESS_NAMES).not.toContain(n);
  });

  it('copies tscni-cni and tscni-shim once, links the served plugins to the shim and the others to tscni-cni', () => {
    const dir = join(tmp, 'res1');
    const actions = install({ dir, from: resident, resident: true });
    expect(actions.map((a) => a.name).slice(0, 2)).toEqual([MULTICALL_NAME, SHIM_NAME]);
    expect(actions.map((a) => a.name).sort()).toEqual([MULTICALL_NAME, SHIM_NAME, ...FAKE_NAMES].sort());
    expect(actions.filter((a) => a.action !== 'installed')).toEqual([]);
    expect(actions.find((a) => a.name === SHIM_NAME)?.note).toContain(`${join(dir, MULTICALL_NAME)} serve`);
    expect(readdirSync(dir).sort()).toEqual([MULTICALL_NAME, SHIM_NAME, ...FAKE_NAMES].sort());
    const [cni, shim] = [inode(join(dir, MULTICALL_NAME)), inode(join(dir, SHIM_NAME))];
    expect(cni).not.toBe(shim);
    for (const n of SERVED) expect(inode(join(dir, n)), n).toBe(shim);
    for (const n of NOT_SERVED) expect(inode(join(dir, n)), n).toBe(cni);
    // Copies, not links into the build, with the build's bytes.
    expect(inode(join(dir, MULTICALL_NAME))).not.toBe(inode(join(resident, MULTICALL_NAME)));
    expect(readFileSync(join(dir, SHIM_NAME)).equals(readFileSync(join(resident, SHIM_NAME)))).toBe(true);
    expect(statSync(join(dir, SHIM_NAME)).mode & 0o777).toBe(0o755);
    // Both files name the plugins: a runtime that checks for our build sees every link as ours.
    for (const n of FAKE_NAMES) expect(ourBuildName(join(dir, n))).toBe(n);
    expect(readdirSync(dir).filter((f) => f.includes('tscni-tmp'))).toEqual([]);
  });

  it('is idempotent: a re-run changes nothing, not even the copies (a running daemon keeps its file)', () => {
    const dir = join(tmp, 'res2');
    install({ dir, from: resident, resident: true });
    const before = readdirSync(dir).map((f) => [f, inode(join(dir, f))]);
    const again = install({ dir, from: resident, resident: true });
    expect(new Set(again.map((a) => a.action))).toEqual(new Set(['unchanged']));
    expect(readdirSync(dir).map((f) => [f, inode(join(dir, f))])).toEqual(before);
    // A plain re-run is idempotent too.
    const plainDir = join(tmp, 'plain2');
    install({ dir: plainDir, from: plain });
    expect(new Set(install({ dir: plainDir, from: plain }).map((a) => a.action))).toEqual(new Set(['unchanged']));
  });

  it('switches resident → plain → resident by re-pointing links; the plain install leaves tscni-shim in place', () => {
    const dir = join(tmp, 'res3');
    install({ dir, from: resident, resident: true });
    const cni = inode(join(dir, MULTICALL_NAME));

    const toPlain = install({ dir, from: plain });
    expect(byName(toPlain)).toEqual({
      [MULTICALL_NAME]: 'unchanged',
      [SHIM_NAME]: 'unchanged',
      ...Object.fromEntries(SERVED.map((n) => [n, 'replaced'])),
      ...Object.fromEntries(NOT_SERVED.map((n) => [n, 'unchanged'])),
    });
    expect(toPlain.find((a) => a.name === SHIM_NAME)?.note).toMatch(/left in place.*no plugin is linked to it/);
    for (const n of FAKE_NAMES) expect(inode(join(dir, n)), n).toBe(cni);
    expect(statSync(join(dir, SHIM_NAME)).nlink).toBe(1);

    const back = install({ dir, from: resident, resident: true });
    expect(byName(back)).toEqual({
      [MULTICALL_NAME]: 'unchanged',
      [SHIM_NAME]: 'unchanged',
      ...Object.fromEntries(SERVED.map((n) => [n, 'replaced'])),
      ...Object.fromEntries(NOT_SERVED.map((n) => [n, 'unchanged'])),
    });
    for (const n of SERVED) expect(inode(join(dir, n)), n).toBe(inode(join(dir, SHIM_NAME)));

    // A plain install of some plugins says how many names still use the shim.
    const some = install({ dir, from: plain, plugins: ['loopback'] });
    expect(some.find((a) => a.name === SHIM_NAME)?.note).toContain(`${SERVED.length - 1} other name(s) still linked`);
  });

  it('plain → resident on a directory without a shim installs it', () => {
    const dir = join(tmp, 'res4');
    install({ dir, from: plain });
    const actions = install({ dir, from: resident, resident: true });
    expect(byName(actions)[SHIM_NAME]).toBe('installed');
    expect(
      actions
        .filter((a) => a.action === 'replaced')
        .map((a) => a.name)
        .sort(),
    ).toEqual([...SERVED].sort());
  });

  it('an upgrade replaces both copies and re-links every name, and says to restart the daemon', () => {
    const dir = join(tmp, 'res5');
    install({ dir, from: resident, resident: true });
    const newer = fakeBuild('fake-resident-2', { resident: true, version: '2' });
    const actions = install({ dir, from: newer, resident: true });
    expect(new Set(actions.map((a) => a.action))).toEqual(new Set(['replaced']));
    expect(actions[0].note).toMatch(/restart tscni-plugind/);
    for (const n of SERVED) expect(inode(join(dir, n))).toBe(inode(join(dir, SHIM_NAME)));
    for (const n of NOT_SERVED) expect(inode(join(dir, n))).toBe(inode(join(dir, MULTICALL_NAME)));
  });

  it('refuses a file that is not ours without --force; a link to the shim is ours', () => {
    const dir = join(tmp, 'res6');
    mkdirSync(dir);
    writeFileSync(join(dir, 'bridge'), '#!/bin/sh\necho reference\n', { mode: 0o755 });
    writeFileSync(join(dir, 'dhcp'), '#!/bin/sh\necho reference\n', { mode: 0o755 });
    const first = install({ dir, from: resident, resident: true });
    expect(first.filter((a) => a.action === 'refused').map((a) => a.name)).toEqual(['bridge', 'dhcp']);
    expect(readFileSync(join(dir, 'bridge'), 'utf8')).toContain('reference');
    // A name linked to the shim under another name (an older install's layout) is still ours.
    rmSync(join(dir, 'loopback'));
    linkSync(join(dir, SHIM_NAME), join(dir, 'loopback-old'));
    linkSync(join(dir, SHIM_NAME), join(dir, 'loopback'));
    expect(byName(install({ dir, from: resident, resident: true, plugins: ['loopback'] })).loopback).toBe('unchanged');
    rmSync(join(dir, 'loopback-old'));
    const forced = install({ dir, from: resident, resident: true, plugins: ['bridge', 'dhcp'], force: true });
    expect(forced.filter((a) => a.name !== MULTICALL_NAME && a.name !== SHIM_NAME).map((a) => a.action)).toEqual([
      'replaced',
      'replaced',
    ]);
    expect(inode(join(dir, 'bridge'))).toBe(inode(join(dir, SHIM_NAME)));
    expect(inode(join(dir, 'dhcp'))).toBe(inode(join(dir, MULTICALL_NAME)));
  });

  it('wants a resident build', () => {
    expect(() => install({ dir: join(tmp, 'res7'), from: plain, resident: true })).toThrow(
      /no resident build at .*tscni-shim beside tscni-cni/,
    );
  });

  const CLI = join(root, 'dist/bin/tscni');
  it.skipIf(!existsSync(CLI))('on the command line: --json lists tscni-shim; --runtime node is a usage error', () => {
    const dir = join(tmp, 'res-cli');
    const r = spawnSync(CLI, ['install', '--resident', '--dir', dir, '--from', resident, '--json'], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const actions = JSON.parse(r.stdout) as InstallAction[];
    expect(actions.map((a) => a.name).sort()).toEqual([MULTICALL_NAME, SHIM_NAME, ...FAKE_NAMES].sort());
    expect(actions[1]).toMatchObject({ path: join(dir, SHIM_NAME), action: 'installed' });
    const text = spawnSync(CLI, ['install', '--resident', '--dir', dir, '--from', resident], { encoding: 'utf8' });
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain(
      `unchanged ${join(dir, SHIM_NAME)} (run the daemon: ${join(dir, MULTICALL_NAME)} serve;`,
    );
    for (const args of [
      ['--resident', '--runtime', 'node'],
      ['--runtime=node', '--resident'],
    ]) {
      const bad = spawnSync(CLI, ['install', '--dir', dir, '--from', resident, ...args], { encoding: 'utf8' });
      expect(bad.status).not.toBe(0);
      expect(bad.stdout + bad.stderr).toMatch(/--resident .*--runtime node/);
    }
  });
});

// The daemon's systemd unit, shipped as a file and shown in docs/resident.md.
const UNIT = join(root, 'apps/plugind/systemd/tscni-plugind.service');
describe('the systemd unit of tscni-plugind', () => {
  it('runs /opt/cni/bin/tscni-cni serve, and docs/resident.md shows it as it is', () => {
    const unit = readFileSync(UNIT, 'utf8');
    expect(unit).toMatch(/^ExecStart=\/opt\/cni\/bin\/tscni-cni serve$/m);
    expect(unit).toMatch(/^RuntimeDirectory=tscni$/m);
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^Before=.*\bcontainerd\.service\b.*\bcrio\.service\b.*\bkubelet\.service\b/m);
    expect(readFileSync(join(root, 'docs/resident.md'), 'utf8')).toContain(`\`\`\`ini\n${unit}\`\`\``);
  });
});

// The real thing: the resident build (tools/shim-build.mjs, built by the vitest global setup when stale), installed
// by the CLI, with tscni-plugind running.
const RESIDENT_BIN = join(root, 'dist/bun/cni-resident');
describe.skipIf(!!missing)(
  `a resident install, with and without its daemon${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    it('loopback ADD runs in tscni-plugind, then, the daemon stopped, through the fallback', async () => {
      const tag = 'rs';
      const dir = join(tmp, tag);
      const socket = join(tmp, `${tag}-p.sock`);
      expect(existsSync(join(RESIDENT_BIN, SHIM_NAME)), `${RESIDENT_BIN}/${SHIM_NAME}`).toBe(true);
      const r = spawnSync(CLI_BUNDLE, ['install', '--resident', '--dir', dir, '--json'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as InstallAction[]).map((a) => a.name)).toContain(SHIM_NAME);
      expect(inode(join(dir, 'loopback'))).toBe(inode(join(dir, SHIM_NAME)));
      const node = new TestNode(tag);
      // The daemon runs where the shims do (the node namespace), with their TSCNI_* settings.
      const daemonEnv = { PATH: process.env.PATH, TSCNI_IPMASQ_STATE_DIR: node.ipMasqStateDir };
      // The unit's command line, from the test's install, on the test's socket.
      const [exe, ...args] = /^ExecStart=(.*)$/m.exec(readFileSync(UNIT, 'utf8'))![1].split(' ');
      // nsenter, not `ip netns exec` (which gives its command a mount namespace of its own: the daemon would then
      // decline every call, as it declines a runtime whose mounts differ from its own).
      const daemon = spawn(
        'nsenter',
        [`--net=${node.path}`, '--', exe.replace('/opt/cni/bin', dir), ...args, '--socket', socket, '--verbose'],
        { env: daemonEnv, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let log = '';
      daemon.stderr.on('data', (d) => (log += d));
      const exited = new Promise((resolve) => daemon.on('exit', resolve));
      try {
        for (let waited = 0; !log.includes('serving'); waited += 50) {
          if (waited > 30_000 || daemon.exitCode !== null) throw new Error(`tscni-plugind did not start: ${log}`);
          await new Promise((res) => setTimeout(res, 50));
        }
        const conf = { cniVersion: '1.1.0', name: 'lo', type: 'loopback' };
        const add = () => {
          const pod = node.addPod();
          // Through nsenter, in this process's mount namespace, which is the daemon's (`ip netns exec`, which
          // TestNode.runPlugin uses, makes a mount namespace per call, whose calls the daemon would decline).
          const r = spawnSync('nsenter', [`--net=${node.path}`, '--', join(dir, 'loopback')], {
            encoding: 'utf8',
            input: JSON.stringify(conf),
            env: {
              ...daemonEnv,
              CNI_COMMAND: 'ADD',
              CNI_CONTAINERID: `${tag}-${node.pods.length}`,
              CNI_NETNS: pod,
              CNI_IFNAME: 'lo',
              CNI_PATH: dir,
              TSCNI_PLUGIND_SOCKET: socket,
            },
          });
          const run = { code: r.status, stdout: r.stdout, stderr: r.stderr, json: JSON.parse(r.stdout || '{}') };
          expect(run.code, run.stdout + run.stderr).toBe(0);
          expect(run.json.ips.map((i: { address: string }) => i.address)).toContain('127.0.0.1/8');
          expect(linksIn(pod).find((l) => l.ifname === 'lo')?.flags).toContain('UP');
          expect(addrsIn(pod, 'lo')).toContain('127.0.0.1/8');
        };
        add();
        // --verbose: a line per call the daemon ran (its log reaches this process through a pipe: a moment later).
        const ran = `ADD loopback ${tag}-1/lo: exit 0`;
        for (let waited = 0; !log.includes(ran) && waited < 10_000; waited += 50)
          await new Promise((res) => setTimeout(res, 50));
        expect(log, log).toContain(ran);
        expect(log).not.toContain('declined');
        daemon.kill('SIGTERM');
        await exited;
        expect(existsSync(socket)).toBe(false);
        // No daemon: the shim runs tscni-cni beside it.
        add();
      } finally {
        if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
        await exited;
        node.destroy();
      }
    }, 180_000);
  },
);
