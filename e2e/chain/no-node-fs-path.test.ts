/**
 * Issue 18: under Bun, merely loading the `node:fs` compat module costs a plugin call ≈ 1–2 ms of CPU and `node:path`
 * ≈ 1 ms (they share part of it), so the steady hot paths do their file work through @tscni/cni/files (raw system
 * calls) and their path work through @tscni/cni/paths, and must load neither. The observable: Bun's sampling CPU
 * profiler (a compiled executable honours `BUN_OPTIONS`), sampling every 50 µs, names the module (`node:fs`,
 * `node:path`) in any stack that runs its init — each call's profile must have no such frame. Runs the Bun executable
 * (dist/bun/cni-bin), whatever DIST_BIN points at.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CNIConfig, confListFromBytes, execInNetns, type NetworkConfigList, type PluginExec } from '@tscni/libcni';
import { TestNode, missingForKernelTests, sh } from '@tscni/testing/node';
import { chainRuntime } from '../bench/cni';

const BUN_BIN = resolve(import.meta.dirname, '../../dist/bun/cni-bin');
const PLUGINS = ['bridge', 'host-local', 'portmap', 'bandwidth', 'tuning', 'loopback'];
const absent = PLUGINS.filter((p) => !existsSync(join(BUN_BIN, p)));
const missing =
  missingForKernelTests(['ip', 'nsenter', 'iptables-save', 'tc']) ??
  (absent.length ? `needs the Bun executable (${absent.join(', ')})` : undefined);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

const UNWANTED = new Set(['node:fs', 'node:path']);

/** The stacks (outermost first) of every frame of node:fs or node:path in a .cpuprofile; empty when neither ran. */
function unwantedStacks(profile: { nodes: ProfileNode[] }): string[] {
  const parent = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const stacks: string[] = [];
  for (const n of profile.nodes) {
    if (!UNWANTED.has(n.callFrame.url) || UNWANTED.has(parent.get(n.id)?.callFrame.url ?? '')) continue;
    const frames: string[] = [];
    for (let p: ProfileNode | undefined = n; p; p = parent.get(p.id))
      frames.unshift(`${p.callFrame.functionName || '(anonymous)'}${p.callFrame.url ? ` ${p.callFrame.url}` : ''}`);
    stacks.push(frames.join(' > '));
  }
  return stacks;
}

describe.skipIf(!!missing)(
  `no node:fs, no node:path on the steady hot paths under Bun${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let seq = 0;
    beforeAll(() => {
      node = new TestNode('nofs');
    });
    afterAll(() => node?.destroy());

    /** Each call's profile lands in its own directory, named `<seq>-<plugin>-<verb>`. */
    const profiled = (dir: string): PluginExec => {
      const base = execInNetns(node.path);
      return (file, opts) => {
        const out = join(dir, `${seq++}-${basename(file)}-${opts.env?.CNI_COMMAND}`);
        mkdirSync(out, { recursive: true });
        const flags = `--cpu-prof --cpu-prof-interval=50 --cpu-prof-dir=${out}`;
        return base(file, { ...opts, env: { ...opts.env, BUN_OPTIONS: flags } });
      };
    };

    const list = (name: string, plugins: Record<string, unknown>[]): NetworkConfigList =>
      confListFromBytes(JSON.stringify({ cniVersion: '1.0.0', name, plugins }));

    /** Two pods through `conf`: the first warms up (bridge, chains), the second's calls are checked. */
    async function steadyCalls(conf: NetworkConfigList): Promise<Record<string, string[]>> {
      const found: Record<string, string[]> = {};
      for (const round of [0, 1]) {
        const dir = join(node.tmp, `prof-${conf.name}-${round}`);
        const cni = new CNIConfig({ binDirs: [BUN_BIN], cacheDir: join(node.tmp, 'cache'), exec: profiled(dir) });
        const netns = node.addPod();
        const rt = chainRuntime(`nofs-${conf.name}-${round}`, netns, 21000 + round);
        await cni.addNetworkList(conf, rt);
        await cni.delNetworkList(conf, rt);
        sh('ip', ['netns', 'delete', basename(netns)], { allowFail: true });
        if (round === 0) continue;
        for (const call of readdirSync(dir)) {
          const files = readdirSync(join(dir, call));
          expect(files, `${call} wrote one profile`).toHaveLength(1);
          found[call.replace(/^\d+-/, '')] = unwantedStacks(
            JSON.parse(readFileSync(join(dir, call, files[0]), 'utf8')),
          );
        }
      }
      return found;
    }

    it('bridge + host-local, the chain (portmap, bandwidth, tuning) and loopback load neither node:fs nor node:path', async () => {
      const ipam = (subnet: string) => ({ type: 'host-local', subnet, dataDir: join(node.tmp, 'ipam') });
      const found = {
        ...(await steadyCalls(
          list('nofs-bh', [{ type: 'bridge', bridge: 'nofs-bh', isGateway: true, ipam: ipam('10.71.0.0/16') }]),
        )),
        ...Object.fromEntries(
          Object.entries(
            await steadyCalls(
              list('nofs-k8s', [
                {
                  type: 'bridge',
                  bridge: 'nofs-k8',
                  isGateway: true,
                  ipMasq: true,
                  hairpinMode: true,
                  ipam: ipam('10.72.0.0/16'),
                },
                { type: 'portmap', capabilities: { portMappings: true }, snat: true },
                { type: 'bandwidth', capabilities: { bandwidth: true } },
                { type: 'tuning', sysctl: { 'net.ipv4.conf.IFNAME.arp_ignore': '1' } },
              ]),
            ),
          ).map(([k, v]) => [`chain:${k}`, v]),
        ),
        ...(await steadyCalls(list('nofs-lo', [{ type: 'loopback' }]))),
      };
      expect(Object.keys(found).sort()).toEqual(
        [
          'bridge-ADD',
          'bridge-DEL',
          'chain:bridge-ADD',
          'chain:bridge-DEL',
          'chain:portmap-ADD',
          'chain:portmap-DEL',
          'chain:bandwidth-ADD',
          'chain:bandwidth-DEL',
          'chain:tuning-ADD',
          'chain:tuning-DEL',
          'loopback-ADD',
          'loopback-DEL',
        ].sort(),
      );
      expect(Object.fromEntries(Object.entries(found).filter(([, stacks]) => stacks.length))).toEqual({});
    });
  },
);
