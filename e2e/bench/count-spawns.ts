/**
 * Processes each plugin spawns for one pod: bridge + host-local and the Kubernetes chain, ADD and DEL, each plugin
 * exec run under `strace -f -e trace=execve` (successful execs counted; `nsenter` that execs the tool is one process).
 * Two pods per network: the first creates the bridge; the second is the steady state (the bridge is there).
 * `--ipmasq <iptables|nftables>` adds bridge(ipMasq) + host-local alone with that `ipMasqBackend`.
 *   cd e2e && [SPAWNS_ARGV=1] npx vite-node bench/count-spawns.ts [bin dir] [--ipmasq nftables]
 *   (SPAWNS_ARGV: print each argv)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CNIConfig, defaultExec, type NetworkConfigList, type PluginExec } from '@tscni/libcni';
import { DIST_BIN, TestNode } from '@tscni/testing/node';
import { CniBench } from './cni';

const dir = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : DIST_BIN;
const masqArg = process.argv.indexOf('--ipmasq');
const masqBackend = masqArg >= 0 ? process.argv[masqArg + 1] : undefined;
if (masqBackend !== undefined && masqBackend !== 'iptables' && masqBackend !== 'nftables')
  throw new Error('--ipmasq iptables|nftables');
const node = new TestNode('spawns');
let n = 0;
let phase = 'first';
const traced: PluginExec = (file, opts) =>
  defaultExec(file, {
    ...opts,
    wrapper: [
      'nsenter',
      `--net=${node.path}`,
      '--',
      'strace',
      '-f',
      '-qq',
      '-e',
      'trace=execve',
      '-o',
      join(
        node.tmp,
        `t${String(n++).padStart(3, '0')}-${phase}-${basename(file)}-${opts.env?.CNI_COMMAND ?? ''}.trace`,
      ),
    ],
  });

/** For each trace: the plugin, its verb, and the processes it started (tool names; `nsenter X` counts once). */
function summarize(): { pod: string; plugin: string; verb: string; processes: number; tools: string[] }[] {
  return readdirSync(node.tmp)
    .filter((f) => f.endsWith('.trace'))
    .sort()
    .map((f) => {
      const [, pod, plugin, verb] = /^t\d+-([a-z]+)-(.+)-([A-Z]+)\.trace$/.exec(f)!;
      const execs = readFileSync(join(node.tmp, f), 'utf8')
        .split('\n')
        .filter((l) => /execve\(/.test(l) && /= 0$/.test(l));
      // pid → programs it exec'd in order; the first pid is the plugin itself (env → node under the shebang).
      const byPid = new Map<string, string[]>();
      for (const l of execs) {
        const [pid] = l.split(' ');
        const prog = process.env.SPAWNS_ARGV
          ? (/execve\("[^"]+", (\[[^\]]*\])/.exec(l)?.[1] ?? l)
          : basename(/execve\("([^"]+)"/.exec(l)![1]);
        byPid.set(pid, [...(byPid.get(pid) ?? []), prog]);
      }
      const [, ...children] = [...byPid.values()];
      const tools = children.map((progs) => progs.join('→'));
      return { pod, plugin, verb, processes: tools.length, tools };
    });
}

try {
  const bench = new CniBench(node);
  const set = { tag: 'cnt', dir, net: 71 };
  const cni = new CNIConfig({ binDirs: [dir], cacheDir: join(node.tmp, 'cache'), exec: traced });
  // The bridge(ipMasq) pods' rows and totals are `masqfirst` / `masqsteady`.
  const lists: [NetworkConfigList, string][] = [
    [bench.bridge(set), ''],
    [bench.chain(set), ''],
    ...(masqBackend ? [[bench.masq(set, masqBackend), 'masq'] as [NetworkConfigList, string]] : []),
  ];
  const pods = lists.flatMap(([l, tag]): [NetworkConfigList, string][] => [
    [l, `${tag}first`],
    [l, `${tag}steady`],
  ]);
  for (const [list, pod] of pods) {
    phase = pod;
    const netns = node.addPod();
    const rt = {
      containerID: `cnt${n}`,
      netNS: netns,
      ifName: 'eth0',
      capabilityArgs: {
        portMappings: [{ hostPort: 20080, containerPort: 80, protocol: 'tcp' }],
        bandwidth: { ingressRate: 100e6, ingressBurst: 10e6, egressRate: 100e6, egressBurst: 10e6 },
      },
    };
    await cni.addNetworkList(list, rt);
    await cni.delNetworkList(list, rt);
  }
  const rows = summarize();
  const total: Record<string, number> = {};
  for (const r of rows) {
    console.log(
      `${r.pod.padEnd(6)} ${r.plugin.padEnd(10)} ${r.verb.padEnd(4)} ${String(r.processes).padStart(3)}  ${r.tools.join(' ')}`,
    );
    total[`${r.pod} ${r.verb}`] = (total[`${r.pod} ${r.verb}`] ?? 0) + r.processes;
  }
  console.log(JSON.stringify(total));
} finally {
  node.destroy();
}
