/**
 * The harness calls our plugins in its own process when CNI_PATH resolves to our build (libcni
 * `inProcessExec`). Here the same Kubernetes chain runs through the exec path (`--no-cni-in-process`)
 * and the in-process path on one TestNode, and everything a runtime or the node can see must match:
 * the CNI result, the libcni cache files, the error of a failing plugin, and the kernel state.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, TestNode, addrsIn, linksIn, missingForKernelTests, sh } from '@tscni/testing/node';
import { Crictl, CrictlError } from '@tscni/testing/crictl';
import {
  HarnessProcess,
  harnessDirs,
  killPauses,
  recordsIn,
  type HarnessOptions,
} from '@tscni/testing/harness-process';

const PLUGINS = ['loopback', 'bridge', 'host-local', 'portmap', 'bandwidth', 'tuning'];
const absent = PLUGINS.filter((p) => !existsSync(join(DIST_BIN, p)));
const missing =
  missingForKernelTests(['ip', 'nsenter', 'unshare', 'flock', 'iptables-save', 'tc']) ??
  (absent.length ? `needs ${absent.join(', ')} in ${DIST_BIN}` : undefined);

const pod = (name: string) =>
  JSON.stringify({
    metadata: { name, namespace: 'web', uid: `uid-${name}`, attempt: 0 },
    hostname: name,
    log_directory: '/tmp',
    port_mappings: [{ protocol: 0, container_port: 80, host_port: 18081, host_ip: '' }],
    annotations: { 'kubernetes.io/ingress-bandwidth': '1M' },
    linux: {},
  });

type Mode = 'exec' | 'inproc';

describe.skipIf(!!missing)(`cri-harness in-process plugins vs exec${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  const netnsSeen = new Set<string>();
  const started: { h: HarnessProcess; o: HarnessOptions }[] = [];

  const dir = (...d: string[]) => {
    mkdirSync(join(node.tmp, ...d), { recursive: true });
    return join(node.tmp, ...d);
  };

  /** A harness with its own dirs; the chain's tuning step gets `tuningSysctl` (a bad key makes it fail). */
  async function harness(mode: Mode, binDir: string, tuningSysctl: Record<string, string> = {}, tag: string = mode) {
    const o = harnessDirs(join(node.tmp, tag), [binDir], {
      extraArgs: mode === 'exec' ? ['--no-cni-in-process'] : [],
    });
    writeFileSync(
      join(o.confDir, '10-k8s.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'k8s',
        plugins: [
          {
            type: 'bridge',
            bridge: 'inp0',
            isGateway: true,
            ipMasq: true,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: '10.124.0.0/24' }]],
              routes: [{ dst: '0.0.0.0/0' }],
              dataDir: dir(tag, 'ipam'),
            },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
          { type: 'bandwidth', capabilities: { bandwidth: true } },
          { type: 'tuning', mtu: 1400, sysctl: tuningSysctl, dataDir: dir(tag, 'tuning') },
        ],
      }),
    );
    const h = await HarnessProcess.start(node, o);
    started.push({ h, o });
    return { o, h, crictl: new Crictl(o.socket, 20_000), tag };
  }

  /**
   * The nat table with the per-pod chains' hashes masked, chains in name order (iptables-save lists them by name,
   * so by hash), each chain's rules in their order.
   */
  const natRules = (id: string) => {
    const lines = node
      .exec('iptables-save', ['-t', 'nat'])
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) =>
        l
          .replace(/\[\d+:\d+\]/g, '')
          .replaceAll(id, '<id>')
          .replace(/CNI-(DN-)?[0-9a-f]{16,}/g, 'CNI-$1<hash>'),
      );
    const chainOf = (l: string) =>
      l.startsWith(':') ? `0${l.split(' ')[0]}` : l.startsWith('-A ') ? `1${l.split(' ')[1]}` : `2${l}`;
    return lines.sort((a, b) => chainOf(a).localeCompare(chainOf(b)));
  };

  /** Everything observable about one pod, with what legitimately differs per run (ids, MACs, veth names, paths) masked. */
  function snapshot(o: HarnessOptions, tag: string, id: string, info: Record<string, any>) {
    const cache = Object.fromEntries(
      readdirSync(join(o.cacheDir, 'results')).map((f) => {
        const entry = JSON.parse(readFileSync(join(o.cacheDir, 'results', f), 'utf8'));
        return [f, { ...entry, config: Buffer.from(entry.config, 'base64').toString() }];
      }),
    );
    const veth = linksIn(node.name).find((l) => l.master === 'inp0')!;
    const state = {
      result: info.cniResult,
      cache,
      podAddrs: addrsIn(info.netns, 'eth0'),
      podMtu: linksIn(info.netns).find((l) => l.ifname === 'eth0')!.mtu,
      podRoutes: sh('ip', ['-n', basename(info.netns), '-j', 'route', 'show']),
      hostQdiscs: (JSON.parse(node.exec('tc', ['-j', 'qdisc', 'show', 'dev', veth.ifname])) as { kind: string }[]).map(
        (q) => q.kind,
      ),
      nat: natRules(id),
    };
    return JSON.parse(
      JSON.stringify(state)
        .replaceAll(id, '<id>')
        .replaceAll(info.netns, '<netns>')
        .replaceAll(basename(info.netns), '<netns>')
        .replaceAll(join(node.tmp, tag), '<dir>')
        .replaceAll(veth.ifname, '<veth>')
        .replace(/([0-9a-f]{2}:){5}[0-9a-f]{2}/g, '<mac>')
        .replace(/CNI-(DN-)?[0-9a-f]{16,}/g, 'CNI-$1<hash>'),
    );
  }

  async function onePod(mode: Mode) {
    const { o, crictl, tag, h } = await harness(mode, DIST_BIN);
    const id = await crictl.runp(pod('p'));
    const { info } = await crictl.inspectp(id);
    netnsSeen.add(info.netns);
    const snap = snapshot(o, tag, id, info);
    await crictl.stopp(id);
    await crictl.rmp(id);
    const left = {
      cache: readdirSync(join(o.cacheDir, 'results')),
      leases: readdirSync(join(o.cacheDir, '..', 'ipam', 'k8s')).filter((f) => /^\d/.test(f)),
      records: recordsIn(o.stateDir),
      netns: existsSync(info.netns),
      nat: node.exec('iptables-save', ['-t', 'nat']).includes('18081'),
    };
    await h.stop();
    return { snap, left };
  }

  beforeAll(() => {
    node = new TestNode('inp');
  });

  afterAll(async () => {
    for (const { h, o } of started) {
      const crictl = new Crictl(o.socket, 20_000);
      for (const p of (await crictl.pods().catch(() => [])) ?? [])
        await crictl.rmp((p as any).id, true).catch(() => {});
      await h.stop();
      killPauses(o.stateDir);
    }
    for (const ns of netnsSeen)
      if (ns && existsSync(ns)) sh('ip', ['netns', 'delete', basename(ns)], { allowFail: true });
    node?.destroy();
  });

  it('the bridge → portmap → bandwidth → tuning chain gives the same result, cache files and kernel state both ways', async () => {
    const exec = await onePod('exec');
    const inproc = await onePod('inproc');
    expect(inproc.snap.result.ips).toEqual([
      expect.objectContaining({ address: '10.124.0.2/24', gateway: '10.124.0.1' }),
    ]);
    expect(inproc.snap.podMtu).toBe(1400);
    expect(inproc.snap.hostQdiscs).toContain('tbf');
    expect(inproc.snap.nat).toContainEqual(expect.stringMatching(/--dport 18081 .*--to-destination 10\.124\.0\.2:80/));
    expect(Object.keys(inproc.snap.cache).sort()).toEqual(['cni-loopback-<id>-lo', 'k8s-<id>-eth0']);
    expect(inproc.snap).toEqual(exec.snap);
    const clean = { cache: [], leases: [], records: [], netns: false, nat: false };
    expect(exec.left).toEqual(clean);
    expect(inproc.left).toEqual(clean);
  });

  it('a failing plugin gives the same error both ways and the failed ADD leaves nothing', async () => {
    const bad = { 'net.ipv4.conf.IFNAME.no_such_sysctl': '1' };
    const errors: Record<string, string> = {};
    for (const mode of ['exec', 'inproc'] as const) {
      const { o, crictl, h } = await harness(mode, DIST_BIN, bad, `${mode}-fail`);
      const err = await crictl.runp(pod(`f-${mode}`)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CrictlError);
      errors[mode] = (err as Error).message.replace(/[0-9a-f]{64}/g, '<id>').replaceAll(`f-${mode}`, '<pod>');
      expect(await crictl.pods()).toEqual([]);
      expect(readdirSync(join(o.cacheDir, 'results'))).toEqual([]);
      await h.stop();
    }
    expect(errors.inproc).toMatch(/plugin type="tuning"/);
    expect(errors.inproc).toEqual(errors.exec);
    expect(linksIn(node.name).filter((l) => l.master === 'inp0')).toEqual([]);
  });

  it('calls our build in-process: a bundle with our marker whose body only errors still works; --no-cni-in-process execs it', async () => {
    // Our marker line with a body that only errors: the in-process path runs the harness's own tuning, the exec path this file.
    const bin = dir('marked-bin');
    for (const p of PLUGINS) copyFileSync(join(DIST_BIN, p), join(bin, p));
    writeFileSync(
      join(bin, 'tuning'),
      `#!/usr/bin/env node\n// tscni:tuning\nprocess.stdout.write(JSON.stringify({ code: 11, msg: 'exec path taken' }) + '\\n'); process.exitCode = 1;\n`,
    );
    chmodSync(join(bin, 'tuning'), 0o755);
    const inproc = await harness('inproc', bin, {}, 'marked-inproc');
    const id = await inproc.crictl.runp(pod('m-inproc'));
    netnsSeen.add((await inproc.crictl.inspectp(id)).info.netns);
    await inproc.crictl.rmp(id, true);
    await inproc.h.stop();
    const exec = await harness('exec', bin, {}, 'marked-exec');
    await expect(exec.crictl.runp(pod('m-exec'))).rejects.toThrow(/exec path taken/);
    // This tuning's DEL fails too, so the rollback keeps the sandbox NOTREADY for a later stop to retry (as
    // containerd keeps a sandbox whose teardown failed); its netns can only go with the test's clean-up.
    const kept = (await exec.crictl.pods()) as unknown as { id: string; state: string }[];
    expect(kept.map((p) => p.state)).toEqual(['SANDBOX_NOTREADY']);
    netnsSeen.add((await exec.crictl.inspectp(kept[0].id)).info.netns);
    await exec.h.stop();
  });
});
