/**
 * Cache interop with the upstream Go libcni: a small Go runtime (test/go-libcni, built from Debian's
 * golang-github-appc-cni-dev sources) and @tscni/libcni take turns on the same attachments with the
 * reference bridge + host-local, each reading what the other cached.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFERENCE_BIN, TestNode, addrsIn, linksIn, missingForKernelTests, uniqueName } from '@tscni/testing/node';
import { CNIConfig, confListFromBytes, execInNetns, type NetworkConfigList, type RuntimeConf } from '../src';

const GOPATH = '/usr/share/gocode';
const LIBCNI_SRC = join(GOPATH, 'src/github.com/containernetworking/cni/libcni');
const haveGo = spawnSync('go', ['version']).status === 0;
const missing =
  missingForKernelTests(['ip', 'nsenter']) ??
  (!haveGo ? 'needs the go toolchain (Debian golang-go) to build the upstream-libcni runtime' : undefined) ??
  (!existsSync(LIBCNI_SRC) ? 'needs the upstream libcni sources (Debian golang-github-appc-cni-dev)' : undefined) ??
  (['bridge', 'host-local'].some((t) => !existsSync(join(REFERENCE_BIN, t)))
    ? 'needs the reference bridge and host-local in /usr/lib/cni'
    : undefined);

describe.skipIf(!!missing)(
  `result cache interop with upstream Go libcni${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let goRuntime: string;
    let confFile: string;
    let list: NetworkConfigList;
    let cni: CNIConfig;
    let cacheDir: string;
    const caps = { aliases: ['web'] };

    beforeAll(() => {
      node = new TestNode('lgo');
      goRuntime = join(node.tmp, 'go-libcni');
      const build = spawnSync('go', ['build', '-o', goRuntime, 'main.go'], {
        cwd: join(import.meta.dirname, 'go-libcni'),
        encoding: 'utf8',
        env: {
          ...process.env,
          GOPATH,
          GO111MODULE: 'off',
          GOFLAGS: '',
          GOCACHE: join(import.meta.dirname, '../../../node_modules/.cache/tscni-go-build'),
        },
      });
      if (build.status !== 0) throw new Error(`building the Go libcni runtime failed: ${build.stderr}`);
      cacheDir = join(node.tmp, 'cache');
      confFile = join(node.tmp, 'interop.conflist');
      writeFileSync(
        confFile,
        JSON.stringify({
          cniVersion: '1.0.0',
          name: 'gonet',
          plugins: [
            {
              type: 'bridge',
              bridge: uniqueName('gb'),
              isGateway: true,
              ipam: { type: 'host-local', ranges: [[{ subnet: '10.79.0.0/24' }]], dataDir: join(node.tmp, 'ipam') },
            },
          ],
        }),
      );
      list = confListFromBytes(readFileSync(confFile));
      cni = new CNIConfig({ binDirs: [REFERENCE_BIN], cacheDir, exec: execInNetns(node.path), onStderr: () => {} });
    });
    afterAll(() => node?.destroy());

    /** The Go runtime, run inside the node netns like the plugins it execs. */
    const goLibcni = (verb: string, rt: RuntimeConf): any => {
      const r = spawnSync(
        'nsenter',
        [
          `--net=${node.path}`,
          '--',
          goRuntime,
          verb,
          confFile,
          rt.netNS,
          rt.containerID,
          rt.ifName,
          cacheDir,
          JSON.stringify(caps),
        ],
        {
          encoding: 'utf8',
          env: { PATH: process.env.PATH, CNI_PATH: REFERENCE_BIN },
        },
      );
      if (r.status !== 0) throw new Error(`go-libcni ${verb}: ${r.stderr}`);
      return r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
    };
    const attachment = (containerID: string): RuntimeConf => ({
      containerID,
      netNS: node.addPod(),
      ifName: 'eth0',
      args: [['IgnoreUnknown', '1']],
      capabilityArgs: caps,
    });
    const cacheFile = (rt: RuntimeConf) => join(cacheDir, 'results', `gonet-${rt.containerID}-${rt.ifName}`);
    const leasesOf = (rt: RuntimeConf) =>
      readdirSync(join(node.tmp, 'ipam', 'gonet')).filter(
        (f) =>
          f.startsWith('10.79.') && readFileSync(join(node.tmp, 'ipam', 'gonet', f), 'utf8').startsWith(rt.containerID),
      );

    it('reads what upstream libcni cached, and DEL consumes it', async () => {
      const rt = attachment('go-added');
      const goResult = goLibcni('add', rt);
      expect(addrsIn(rt.netNS, 'eth0')).toEqual([goResult.ips[0].address]);

      expect(await cni.getNetworkListCachedResult(list, rt)).toEqual(goResult);
      const [att] = await cni.getCachedAttachments('go-added');
      // Debian's libcni (1.1.2) predates the `netns` field; newer ones write it.
      expect(att).toMatchObject({
        containerID: 'go-added',
        network: 'gonet',
        ifName: 'eth0',
        cniArgs: [['IgnoreUnknown', '1']],
        capabilityArgs: caps,
      });
      expect(att.config.equals(readFileSync(confFile))).toBe(true);
      await cni.checkNetworkList(list, rt);

      await cni.delNetworkList(list, rt);
      expect(linksIn(rt.netNS).some((l) => l.ifname === 'eth0')).toBe(false);
      expect(existsSync(cacheFile(rt))).toBe(false);
      expect(leasesOf(rt)).toEqual([]);
    });

    it('upstream libcni reads what we cached: the result, config, args and capabilities; its CHECK and DEL use it', async () => {
      const rt = attachment('ts-added');
      const ours = await cni.addNetworkList(list, rt);
      const cached = goLibcni('cached', rt);
      expect(cached.result).toEqual(ours);
      expect(cached.config).toBe(readFileSync(confFile, 'utf8'));
      expect(cached.args).toEqual([['IgnoreUnknown', '1']]);
      expect(cached.capabilityArgs).toEqual(caps);
      // The bridge's CHECK needs prevResult: it passes only if libcni parsed our entry.
      goLibcni('check', rt);
      // libcni removes the entry only when it read a cached result.
      goLibcni('del', rt);
      expect(existsSync(cacheFile(rt))).toBe(false);
      expect(linksIn(rt.netNS).some((l) => l.ifname === 'eth0')).toBe(false);
      expect(leasesOf(rt)).toEqual([]);
    });

    it('writes the same entry as upstream libcni for the same attachment', async () => {
      const rt = attachment('same-inputs');
      goLibcni('add', rt);
      const theirs = JSON.parse(readFileSync(cacheFile(rt), 'utf8'));
      await cni.delNetworkList(list, rt);
      await cni.addNetworkList(list, rt);
      const ours = JSON.parse(readFileSync(cacheFile(rt), 'utf8'));
      try {
        // The same keys in the same order; `netns` only where this libcni (1.1.2) is older than the field.
        expect(Object.keys(ours).filter((k) => k in theirs || k !== 'netns')).toEqual(Object.keys(theirs));
        if (!('netns' in theirs)) delete ours.netns;
        const { result: ourResult, ...ourFields } = ours;
        const { result: theirResult, ...theirFields } = theirs;
        expect(ourFields).toEqual(theirFields);
        expect(Object.keys(ourResult).sort()).toEqual(Object.keys(theirResult).sort());
        // Same shape; the host veth name is random.
        const names = (r: { interfaces: { name: string }[] }) =>
          r.interfaces.map((i) => (i.name.startsWith('veth') ? 'veth*' : i.name));
        expect(names(ourResult)).toEqual(names(theirResult));
      } finally {
        await cni.delNetworkList(list, rt);
      }
    });
  },
);
