/**
 * The bundled `tscni` CLI, each call a new process run inside a test node netns: whole chains with the
 * reference plugins and ours, the cache shared with the library across processes, validate/ls, errors.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIST_BIN,
  REFERENCE_BIN,
  TestNode,
  addrsIn,
  linksIn,
  missingForKernelTests,
  sh,
  uniqueName,
} from '@tscni/testing/node';
import { CNIConfig, confListFromBytes, execInNetns } from '@tscni/libcni';
import { spyCalls, writeSpy } from '@tscni/testing/fake-plugin';
import { cnitoolContainerID } from '../src/container-id';

const CLI = join(import.meta.dirname, '../../../dist/bin/tscni');
const missing =
  missingForKernelTests(['ip', 'nsenter', 'iptables-save', 'sha512sum']) ??
  (existsSync(CLI) ? undefined : `needs the bundled CLI at ${CLI} (node tools/bundle.mjs tscni)`);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

it('derives the container ID like cnitool: cnitool- + 20 hex digits of sha512(absolute netns path)', () => {
  const path = '/var/run/netns/some-pod';
  const hex = sh('sha512sum', [], { input: path }).split(' ')[0];
  expect(cnitoolContainerID(path)).toBe(`cnitool-${hex.slice(0, 20)}`);
  expect(cnitoolContainerID('/var/run/netns/../netns/some-pod')).toBe(cnitoolContainerID(path));
});

it.skipIf(!existsSync(CLI))('install copies bundled plugins atomically and refuses a foreign file (exit 1)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tscni-cli-install-'));
  try {
    writeFileSync(join(dir, 'loopback'), '#!/bin/sh\n', { mode: 0o755 });
    const r = spawnSync(CLI, ['install', dir, 'host-local', 'loopback'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`installed ${join(dir, 'host-local')}`);
    expect(r.stdout).toContain(`refused   ${join(dir, 'loopback')} (not a tscni binary; use --force to replace it)`);
    const forced = spawnSync(CLI, ['install', dir, 'loopback', '--force', '--json'], { encoding: 'utf8' });
    expect(forced.status).toBe(0);
    // Under the bun default the Bun executable comes first (tscni-cni, already there from the call above).
    expect(JSON.parse(forced.stdout).filter((e: { name: string }) => e.name !== 'tscni-cni')).toEqual([
      expect.objectContaining({ name: 'loopback', action: 'replaced' }),
    ]);
    const unknown = spawnSync(CLI, ['install', dir, 'nosuch'], { encoding: 'utf8' });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^tscni install .*: unknown plugin "nosuch": available are .*host-local/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe.skipIf(!!missing)(`tscni CLI${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  let confDir: string;
  let cacheDir: string;
  const bridge = uniqueName('cb');

  beforeAll(() => {
    node = new TestNode('cli');
    confDir = join(node.tmp, 'net.d');
    cacheDir = join(node.tmp, 'cache');
    mkdirSync(confDir);
  });
  afterAll(() => node?.destroy());

  /** One CLI process inside the node netns. */
  const tscni = (args: string[], env: Record<string, string> = {}): Run => {
    const r = spawnSync('nsenter', [`--net=${node.path}`, '--', CLI, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH, NETCONFPATH: confDir, CNI_CACHE_DIR: cacheDir, ...env },
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const expectOneLineError = (r: Run, ...parts: (string | RegExp)[]) => {
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    for (const p of parts) expect(lines[0]).toMatch(p);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  };

  const flavors = [
    {
      name: 'reference',
      binDirs: [REFERENCE_BIN],
      present: ['bridge', 'host-local'].every((t) => existsSync(join(REFERENCE_BIN, t))),
    },
    {
      name: 'tscni',
      binDirs: [DIST_BIN, REFERENCE_BIN],
      present: ['bridge', 'host-local'].some((t) => existsSync(join(DIST_BIN, t))),
    },
  ];
  flavors.forEach((flavor, i) => {
    describe.skipIf(!flavor.present)(`bridge + host-local with ${flavor.name} plugins`, () => {
      const net = `clinet${i}`;
      const subnet = `10.78.${i}`;
      const env = () => ({ CNI_PATH: flavor.binDirs.join(':') });
      const cacheFile = (pod: string) => join(cacheDir, 'results', `${net}-${cnitoolContainerID(pod)}-eth0`);
      let pod1: string;
      let pod2: string;

      beforeAll(() => {
        writeFileSync(
          join(confDir, `${10 + i}-${net}.conflist`),
          JSON.stringify({
            cniVersion: '1.0.0',
            name: net,
            plugins: [
              {
                type: 'bridge',
                bridge: `${bridge}${i}`,
                isGateway: true,
                ipam: {
                  type: 'host-local',
                  ranges: [[{ subnet: `${subnet}.0/24` }]],
                  dataDir: join(node.tmp, `ipam${i}`),
                },
              },
            ],
          }),
        );
        pod1 = node.addPod();
        pod2 = node.addPod();
      });

      it('add prints the result (cnitool-style indented JSON) and caches it under the cnitool container ID', () => {
        const r = tscni(['add', net, pod1], { ...env(), CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=p1' });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^\{\n {4}"cniVersion": "1\.0\.0"/);
        const result = JSON.parse(r.stdout);
        const ip = result.ips[0].address;
        expect(ip).toMatch(new RegExp(`^${subnet.replace(/\./g, '\\.')}\\.\\d+/24$`));
        expect(addrsIn(pod1, 'eth0')).toEqual([ip]);
        expect(existsSync(cacheFile(pod1))).toBe(true);
        node.exec('ping', ['-c', '1', '-W', '2', ip.split('/')[0]]);
      });

      it('check passes, status reports ready', () => {
        const c = tscni(['check', net, pod1], env());
        expect(c.code, c.stderr).toBe(0);
        const s = tscni(['status', net], env());
        expect(s.code, s.stderr).toBe(0);
        expect(s.stdout).toBe(`${net}: ready (cniVersion 1.0.0 has no STATUS: plugins not asked)\n`);
        expect(JSON.parse(tscni(['status', net, '--json'], env()).stdout)).toMatchObject({ network: net, ready: true });
      });

      it('gc --keep deletes the other, stale attachment', () => {
        expect(tscni(['add', net, pod2], env()).code).toBe(0);
        const r = tscni(['gc', net, '--keep', cnitoolContainerID(pod1)], env());
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe(`deleted stale attachment ${cnitoolContainerID(pod2)}/eth0\n`);
        expect(linksIn(pod2).some((l) => l.ifname === 'eth0')).toBe(false);
        expect(existsSync(cacheFile(pod2))).toBe(false);
        expect(addrsIn(pod1, 'eth0')).toHaveLength(1);
      });

      it('ls shows the network and the cached attachment', () => {
        const r = JSON.parse(tscni(['ls', '--json'], env()).stdout);
        expect(r.networks).toContainEqual(
          expect.objectContaining({ name: net, cniVersion: '1.0.0', plugins: ['bridge'] }),
        );
        expect(r.attachments).toContainEqual({
          network: net,
          containerID: cnitoolContainerID(pod1),
          ifName: 'eth0',
          netns: pod1,
        });
      });

      it('del (a new process) removes the interface and the cache entry; again is fine', () => {
        const r = tscni(['del', net, pod1], env());
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe('');
        expect(linksIn(pod1).some((l) => l.ifname === 'eth0')).toBe(false);
        expect(existsSync(cacheFile(pod1))).toBe(false);
        expect(readdirSync(join(node.tmp, `ipam${i}`, net)).filter((f) => f.startsWith(subnet))).toEqual([]);
        expect(tscni(['del', net, pod1], env()).code).toBe(0);
      });
    });
  });

  describe('with fake plugins', () => {
    let bin: string;
    let log: string;
    beforeAll(() => {
      bin = join(node.tmp, 'fakebin');
      log = join(node.tmp, 'spy.jsonl');
      mkdirSync(bin);
      writeSpy(bin, 'spy', { log });
      writeSpy(bin, 'notready', { log, fail: { STATUS: { code: 50, msg: 'no addresses left' } } });
      writeSpy(bin, 'oldspy', { log, versions: ['0.3.1', '0.4.0'] });
      writeFileSync(
        join(confDir, '50-spy.conflist'),
        JSON.stringify({
          cniVersion: '1.1.0',
          name: 'spynet',
          plugins: [{ type: 'spy', capabilities: { portMappings: true } }],
        }),
      );
      writeFileSync(
        join(confDir, '51-status.conflist'),
        JSON.stringify({ cniVersion: '1.1.0', name: 'notready', plugins: [{ type: 'spy' }, { type: 'notready' }] }),
      );
      writeFileSync(
        join(confDir, '60-missing.conflist'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name: 'missingbin',
          plugins: [{ type: 'spy' }, { type: 'nosuchplugin' }],
        }),
      );
    });

    it('DEL in a new CLI process reads back the cache the library wrote', async () => {
      const pod = node.addPod();
      const list = confListFromBytes(
        JSON.stringify({
          cniVersion: '1.1.0',
          name: 'spynet',
          plugins: [{ type: 'spy', capabilities: { portMappings: true } }],
        }),
      );
      const cni = new CNIConfig({ binDirs: [bin], cacheDir, exec: execInNetns(node.path), onStderr: () => {} });
      const result = await cni.addNetworkList(list, {
        containerID: cnitoolContainerID(pod),
        netNS: pod,
        ifName: 'eth0',
        args: [['K8S_POD_NAME', 'x']],
      });
      const r = tscni(['del', 'spynet', pod], { CNI_PATH: bin });
      expect(r.code, r.stderr).toBe(0);
      const del = spyCalls(log).find((c) => c.cmd === 'DEL')!;
      expect(del.conf.prevResult).toEqual(result);
      expect(del.env).toMatchObject({ CNI_CONTAINERID: cnitoolContainerID(pod), CNI_NETNS: pod, CNI_IFNAME: 'eth0' });
    });

    it('passes CNI_ARGS, CAP_ARGS and CNI_IFNAME like cnitool', () => {
      const pod = node.addPod();
      const caps = { portMappings: [{ hostPort: 9000, containerPort: 90, protocol: 'udp' }], mac: 'c2:00:00:00:00:01' };
      const r = tscni(['add', 'spynet', pod], {
        CNI_PATH: bin,
        CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web',
        CAP_ARGS: JSON.stringify(caps),
        CNI_IFNAME: 'net7',
      });
      expect(r.code, r.stderr).toBe(0);
      const add = spyCalls(log)
        .filter((c) => c.cmd === 'ADD')
        .at(-1)!;
      expect(add.env).toMatchObject({
        CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web',
        CNI_IFNAME: 'net7',
        CNI_PATH: bin,
      });
      expect(add.conf.runtimeConfig).toEqual({ portMappings: caps.portMappings });
      expect(tscni(['del', 'spynet', pod, '-i', 'net7'], { CNI_PATH: bin }).code).toBe(0);
    });

    it('status failure: exit 1 and one line naming the plugin', () => {
      const r = tscni(['status', 'notready'], { CNI_PATH: bin });
      expectOneLineError(
        r,
        'tscni status notready: plugin type="notready" name="notready" failed (status): no addresses left',
        /to fix: .*not ready/,
      );
      const j = tscni(['status', 'notready', '--json'], { CNI_PATH: bin });
      expect(j.code).toBe(1);
      expect(JSON.parse(j.stdout)).toMatchObject({ code: 50, plugin: 'notready' });
    });

    it('validate: one line per problem, exit 1; a named good network is ok', () => {
      writeFileSync(
        join(confDir, '70-old.conflist'),
        JSON.stringify({ cniVersion: '1.0.0', name: 'oldnet', plugins: [{ type: 'oldspy' }] }),
      );
      writeFileSync(join(confDir, '71-broken.conflist'), '{"name": "broken", "plugins": [');
      writeFileSync(
        join(confDir, '72-dup.conflist'),
        JSON.stringify({ cniVersion: '1.1.0', name: 'spynet', plugins: [{ type: 'spy' }] }),
      );
      try {
        const all = tscni(['validate'], { CNI_PATH: bin });
        expect(all.code).toBe(1);
        const lines = all.stdout.trimEnd().split('\n');
        expect(lines).toContain(
          `${join(confDir, '60-missing.conflist')}: network "missingbin": plugins[1] (type "nosuchplugin"): binary not found in [${bin}]: install it there or fix "type"`,
        );
        expect(lines).toContain(
          `${join(confDir, '70-old.conflist')}: network "oldnet": plugins[0] (type "oldspy"): does not support config version "1.0.0" (it supports 0.3.1, 0.4.0): set "cniVersion" to "0.4.0" or list it in "cniVersions"`,
        );
        expect(
          lines.some((l) => l.startsWith(`${join(confDir, '71-broken.conflist')}: error parsing configuration list`)),
        ).toBe(true);
        expect(lines).toContain(
          `${join(confDir, '72-dup.conflist')}: network "spynet": network name "spynet" is already defined by ${join(confDir, '50-spy.conflist')}, which wins: rename one of them`,
        );
        expect(lines).toContain(
          `${join(confDir, '50-spy.conflist')}: network "spynet" ok (cniVersion 1.1.0, capabilities portMappings)`,
        );
        const one = tscni(['validate', 'notready'], { CNI_PATH: bin });
        expect(one.code, one.stdout).toBe(0);
        const json = JSON.parse(tscni(['validate', 'oldnet', '--json'], { CNI_PATH: bin }).stdout);
        expect(json).toEqual([
          expect.objectContaining({
            network: 'oldnet',
            cniVersion: '1.0.0',
            problems: [expect.stringContaining('does not support config version "1.0.0"')],
          }),
        ]);
      } finally {
        for (const f of ['70-old.conflist', '71-broken.conflist', '72-dup.conflist'])
          sh('rm', ['-f', join(confDir, f)]);
      }
    });

    it('errors are one line that says what to fix', () => {
      const pod = node.addPod();
      expectOneLineError(
        tscni(['add', 'nonet', pod], { CNI_PATH: bin }),
        'tscni add nonet: no net configuration with name "nonet"',
        `to fix: check NETCONFPATH (now "${confDir}")`,
      );
      expectOneLineError(
        tscni(['add', 'missingbin', pod], { CNI_PATH: bin }),
        'plugin type="nosuchplugin" name="missingbin" failed (add): failed to find plugin "nosuchplugin"',
        /install the "nosuchplugin" binary into a directory of CNI_PATH/,
      );
      expectOneLineError(
        tscni(['add', 'spynet', pod], { CNI_PATH: bin, CAP_ARGS: '{bad' }),
        /CAP_ARGS is not valid JSON.*write it as a JSON object/,
      );
      expectOneLineError(
        tscni(['add', 'spynet', pod], { CNI_PATH: bin, CNI_ARGS: 'A=1;B' }),
        'invalid CNI_ARGS pair "B": write CNI_ARGS as K1=V1;K2=V2',
      );
      expectOneLineError(
        tscni(['add', 'spynet', '/var/run/netns/no-such-pod-ns'], { CNI_PATH: bin }),
        /netns \/var\/run\/netns\/no-such-pod-ns does not exist: create the namespace first/,
      );
      expectOneLineError(tscni(['add', 'spynet'], { CNI_PATH: bin }), 'add needs <net> <netns>', /tscni --help/);
      expectOneLineError(tscni(['frob'], {}), 'unknown command "frob"');
      const j = tscni(['add', 'nonet', pod, '--json'], { CNI_PATH: bin });
      expect(j.code).toBe(1);
      expect(JSON.parse(j.stdout)).toMatchObject({
        code: 7,
        msg: expect.stringContaining('no net configuration with name "nonet"'),
        hint: expect.stringContaining('NETCONFPATH'),
      });
      const usage = tscni([], {});
      expect(usage.code).toBe(1);
      expect(usage.stderr).toContain('tscni add      <net> <netns>');
    });
  });
});
