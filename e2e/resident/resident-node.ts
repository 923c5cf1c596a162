/**
 * A node for the resident-mode suites: a TestNode whose plugins libcni runs from a CNI_PATH (the shims'
 * dist/bun/cni-resident, or the exec'd dist/bun/cni-bin), tscni-plugind daemons in its namespace on sockets of its own,
 * and a log of every process of the Bun executable a call started (exec-log.c, LD_PRELOAD), which tells a call the
 * daemon ran (none) from one a process ran. Each test makes its own, so tests can run side by side.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import {
  CNIConfig,
  confListFromBytes,
  defaultExec,
  execInNetns,
  type PluginExec,
  type RuntimeConf,
} from '@tscni/libcni';
import {
  addrsIn,
  inNetnsPrivateMounts,
  linksIn,
  missingForKernelTests,
  REFERENCE_BIN,
  sh,
  TestNode,
} from '@tscni/testing/node';
import { snapshot, type NodeSnapshot } from '@tscni/testing/node-state';
import { PLUGIND_EXE, PlugindProcess, RESIDENT_BIN, plugindSettings } from '@tscni/testing/plugind';

export const EXEC_BIN = join(PLUGIND_EXE, '..');
export { RESIDENT_BIN };
const CHAIN = ['bridge', 'host-local', 'portmap', 'bandwidth', 'tuning'];

/** Why these suites cannot run here, or undefined. */
export function missingForResident(): string | undefined {
  const absent = [
    ...CHAIN.filter((p) => !existsSync(join(RESIDENT_BIN, p))).map((p) => `${RESIDENT_BIN}/${p}`),
    ...(existsSync(PLUGIND_EXE) ? [] : [PLUGIND_EXE]),
  ];
  return (
    missingForKernelTests(['ip', 'nsenter', 'setpriv', 'iptables-save', 'nft', 'tc', process.env.CC || 'cc']) ??
    (absent.length ? `needs ${absent.join(', ')} (npx nx run-many -t build)` : undefined)
  );
}

export const PORT = 18091;
export const CAPABILITIES = {
  portMappings: [{ hostPort: PORT, containerPort: 80, protocol: 'tcp' }],
  bandwidth: { ingressRate: 8e6, ingressBurst: 1e6, egressRate: 8e6, egressBurst: 1e6 },
};

/** Where ipMasq's and portmap's rules go. */
export type Backend = 'iptables' | 'nftables';

/** The state dirs of one run of the chain. */
interface RunDirs {
  root: string;
  ipam: string;
  tuning: string;
  cache: string;
}

export class ResidentNode {
  readonly node: TestNode;
  readonly execLog: string;
  private readonly preload: string;
  private readonly daemons: PlugindProcess[] = [];
  private runs = 0;

  constructor(tag: string) {
    this.node = new TestNode(tag);
    this.execLog = join(this.node.tmp, 'exec.log');
    this.preload = join(this.node.tmp, 'exec-log.so');
    // The C compiler the shim's build uses (tools/shim-build.mjs).
    const cc = process.env.CC || 'cc';
    const r = spawnSync(cc, ['-shared', '-fPIC', '-O2', '-o', this.preload, join(import.meta.dirname, 'exec-log.c')], {
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      this.node.destroy();
      throw new Error(`${cc} exec-log.c: ${r.error?.message ?? r.stderr}`);
    }
  }

  /** A socket path of this node's. */
  socket(tag = 'p'): string {
    return join(this.node.tmp, `run-${tag}`, 'plugind.sock');
  }

  /**
   * tscni-plugind in the node's namespace, with the node's TSCNI_* settings unless `env` says otherwise, and
   * `--verbose`: a log line for each call it runs (`callsRun`); from `exe` (default the build's tscni-cni).
   */
  async daemon(
    socket = this.socket(),
    env: Record<string, string> = this.settings(),
    exe = PLUGIND_EXE,
  ): Promise<PlugindProcess> {
    const d = await PlugindProcess.start({ socket, netns: this.node.path, env, exe, args: ['--verbose'] });
    this.daemons.push(d);
    if (!d.running) throw new Error(`tscni-plugind exited: ${d.stderr}`);
    return d;
  }

  /** The processes of our Bun executable started since the last call (each line: its /proc/self/exe), then forgets them. */
  bunStarts(): string[] {
    if (!existsSync(this.execLog)) return [];
    const lines = readFileSync(this.execLog, 'utf8').split('\n').filter(Boolean);
    rmSync(this.execLog);
    // The build's, or a copy's (an install of this node's).
    return lines.filter((l) => basename(l) === basename(PLUGIND_EXE));
  }

  /**
   * The TSCNI_* settings of this node's plugins and daemons: this process's, but ipMasq's records in a directory of the
   * node's (tests on other nodes use the same network name and container IDs).
   */
  settings(): Record<string, string> {
    return { ...plugindSettings(), TSCNI_IPMASQ_STATE_DIR: this.node.ipMasqStateDir };
  }

  /** The environment `network()` gives a plugin over libcni's: the settings, the exec log, then `env`. */
  pluginEnv(env: Record<string, string> = {}): Record<string, string> {
    return { ...this.settings(), LD_PRELOAD: this.preload, EXEC_LOG: this.execLog, ...env };
  }

  /**
   * A resident install of this node's (as `tscni install --resident` lays one out): copies of tscni-shim and
   * tscni-cni, a link per chain plugin to the shim. Its tscni-cni is another file than the build's, as after an upgrade.
   */
  install(name: string): string {
    const dir = join(this.node.tmp, `install-${name}`);
    mkdirSync(dir);
    copyFileSync(join(RESIDENT_BIN, 'tscni-shim'), join(dir, 'tscni-shim'));
    copyFileSync(PLUGIND_EXE, join(dir, 'tscni-cni'));
    chmodSync(join(dir, 'tscni-shim'), 0o755);
    chmodSync(join(dir, 'tscni-cni'), 0o755);
    for (const p of CHAIN) symlinkSync('tscni-shim', join(dir, p));
    return dir;
  }

  /** A CNI_PATH whose plugins link to `choice[type]` (a directory, or the reference's). */
  binDir(name: string, choice: Record<string, string>): string {
    const dir = join(this.node.tmp, `bin-${name}`);
    mkdirSync(dir);
    for (const [type, from] of Object.entries(choice)) symlinkSync(join(from, type), join(dir, type));
    return dir;
  }

  private dirs(tag: string): RunDirs {
    const root = join(this.node.tmp, `run-${tag}`);
    const d = { root, ipam: join(root, 'ipam'), tuning: join(root, 'tuning'), cache: join(root, 'cache') };
    for (const p of [d.ipam, d.tuning, d.cache]) mkdirSync(p, { recursive: true });
    return d;
  }

  /** Every state dir a run may write (for whole-node snapshots): those of the runs so far, and of the next ten. */
  get stateDirs(): string[] {
    return [
      this.node.ipMasqStateDir,
      ...Array.from({ length: this.runs + 10 }, (_, i) => join(this.node.tmp, `run-${i}`)).flatMap((r) => [
        join(r, 'ipam'),
        join(r, 'tuning'),
        join(r, 'cache'),
      ]),
    ];
  }

  snapshot(): NodeSnapshot {
    return snapshot(this.node, { stateDirs: this.stateDirs });
  }

  /**
   * The Kubernetes chain as a runtime holds it: libcni with plugins from `binDir` (exec'd inside the node's namespace,
   * with `env` over ours: the daemon's socket …) and state dirs of this network's own (so its first pod gets the first
   * address).
   */
  network(binDir: string, env: Record<string, string> = {}, backend: Backend = 'iptables', privateMounts = false) {
    const dirs = this.dirs(String(this.runs++));
    const list = confListFromBytes(
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'k8s',
        plugins: [
          {
            type: 'bridge',
            bridge: 'rsbr0',
            isGateway: true,
            ipMasq: true,
            ipMasqBackend: backend,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: '10.126.0.0/24' }]],
              routes: [{ dst: '0.0.0.0/0' }],
              dataDir: dirs.ipam,
            },
          },
          { type: 'portmap', backend, capabilities: { portMappings: true }, snat: true },
          { type: 'bandwidth', capabilities: { bandwidth: true } },
          { type: 'tuning', mtu: 1400, sysctl: { 'net.ipv4.conf.IFNAME.arp_notify': '1' }, dataDir: dirs.tuning },
        ],
      }),
    );
    const extra = this.pluginEnv(env);
    const exec: PluginExec = (file, opts) =>
      privateMounts
        ? // A runtime in a mount namespace of its own: every plugin call in a new one (inNetnsPrivateMounts).
          defaultExec(file, {
            ...opts,
            env: { ...opts.env, ...extra },
            wrapper: ['nsenter', ...inNetnsPrivateMounts(this.node.path, [])],
          })
        : execInNetns(this.node.path)(file, { ...opts, env: { ...opts.env, ...extra } });
    const cni = new CNIConfig({ binDirs: [binDir], cacheDir: dirs.cache, exec });
    /** What the network's pods left: cache files, leases, tuning backups, veths on the bridge. */
    const left = () => ({
      cache: readdirSync(join(dirs.cache, 'results')),
      leases: readdirSync(join(dirs.ipam, 'k8s')).filter((f) => /^\d/.test(f)),
      tuning: readdirSync(dirs.tuning),
      veths: linksIn(this.node.name).filter((l) => l.master === 'rsbr0'),
    });
    return { cni, list, dirs, left };
  }

  /**
   * One pod's whole life on a new `network(binDir, env)`: the chain's ADD, CHECK and DEL, what a runtime and the node
   * saw after ADD, what was left after DEL, and the Bun processes the calls started.
   */
  async lifecycle(
    binDir: string,
    env: Record<string, string> = {},
    backend: Backend = 'iptables',
    privateMounts = false,
  ) {
    const { cni, list, dirs, left } = this.network(binDir, env, backend, privateMounts);
    const pod = this.node.addPod('p');
    const rt: RuntimeConf = { containerID: 'resident-pod-1', netNS: pod, ifName: 'eth0', capabilityArgs: CAPABILITIES };
    this.bunStarts();
    const result = await cni.addNetworkList(list, rt);
    // The reference portmap's CHECK fails on a v4-only pod (a known v1.1.1 weakness): kept as an outcome to compare.
    const checkError = await cni.checkNetworkList(list, rt).then(
      () => undefined,
      (e: Error) => e.message,
    );
    const seen = this.observe(result, dirs, pod);
    await cni.delNetworkList(list, rt);
    return {
      seen,
      checkError,
      left: { ...left(), podLinks: linksIn(pod).map((l) => l.ifname) },
      bunStarts: this.bunStarts(),
      result,
    };
  }

  /** What a runtime and the node can see of one pod, with what is the pod's own (netns, veth, MACs, dirs) masked. */
  private observe(result: unknown, dirs: RunDirs, pod: string) {
    const node = this.node;
    const cache = Object.fromEntries(
      readdirSync(join(dirs.cache, 'results')).map((f) => {
        const entry = JSON.parse(readFileSync(join(dirs.cache, 'results', f), 'utf8'));
        return [f, { ...entry, config: Buffer.from(entry.config, 'base64').toString() }];
      }),
    );
    const veth = linksIn(node.name).find((l) => l.master === 'rsbr0')!;
    const rules = (table: string) =>
      node
        .exec('iptables-save', ['-t', table])
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => l.replace(/\[\d+:\d+\]/g, ''));
    const seen = {
      result,
      cache,
      podAddrs: addrsIn(pod, 'eth0'),
      podLinks: linksIn(pod).map((l) => `${l.ifname} mtu ${l.mtu} ${l.flags.includes('UP') ? 'up' : 'down'}`),
      // Without the kernel's own IPv6 link-local routes (made from the random MAC).
      podRoutes: (
        JSON.parse(sh('ip', ['-n', basename(pod), '-j', 'route', 'show', 'table', 'all'])) as { dst: string }[]
      ).filter((r) => !/^(fe80:|ff00::)/.test(r.dst)),
      podSysctl: sh('ip', ['netns', 'exec', basename(pod), 'sysctl', '-n', 'net.ipv4.conf.eth0.arp_notify']).trim(),
      qdiscs: JSON.parse(node.exec('tc', ['-j', 'qdisc', 'show'])),
      nat: rules('nat'),
      filter: rules('filter'),
      nft: nftRuleset(node.exec('nft', ['list', 'ruleset'])),
    };
    const masked = JSON.parse(
      JSON.stringify(seen)
        .replaceAll(pod, '<netns>')
        .replaceAll(basename(pod), '<netns>')
        .replaceAll(dirs.root, '<dir>')
        .replaceAll(veth.ifname, '<veth>')
        .replace(/([0-9a-f]{2}:){5}[0-9a-f]{2}/g, '<mac>'),
    ) as typeof seen;
    // tc lists qdiscs in ifindex order, which is the kernel's (a veth made in the pod keeps the index it got there).
    masked.qdiscs = (masked.qdiscs as unknown[])
      .map((q) => JSON.stringify(q))
      .sort()
      .map((q) => JSON.parse(q) as unknown);
    return masked;
  }

  /** Every daemon stopped (SIGKILL), every pod netns and the node gone. */
  async dispose(): Promise<void> {
    for (const d of this.daemons) await d.stop('SIGKILL');
    this.node.destroy();
  }
}

/**
 * `nft list ruleset` as a table's chains, sets and maps, each in name order (nft lists them in the order they were
 * made, which a flushed node makes anew), counters left out.
 */
export function nftRuleset(text: string): string[] {
  const out: string[] = [];
  let blocks: string[] = [];
  let block: string[] | undefined;
  for (const line of text.replace(/counter packets \d+ bytes \d+/g, 'counter').split('\n')) {
    if (block) {
      block.push(line);
      if (line === '\t}') (blocks.push(block.join('\n')), (block = undefined));
    } else if (/^\t\S.* \{$/.test(line)) block = [line];
    else if (line === '}') (out.push(...blocks.sort(), line), (blocks = []));
    else if (line.trim()) out.push(line);
  }
  return out;
}

/** The calls a `--verbose` daemon logged it ran (`<verb> <plugin> <container>/<ifname>: exit <code>`), times left out. */
export const callsRun = (d: PlugindProcess): string[] =>
  d.logs
    .filter((l) => /^[A-Z]+ \S+ \S+\/\S+: exit \d+ in [\d.]+ ms$/.test(l))
    .map((l) => l.replace(/ in [\d.]+ ms$/, ''));

/** A CNI_PATH choice: every chain plugin from `dir`, but those named in `but`. */
export const chainFrom = (dir: string, but: Record<string, string> = {}): Record<string, string> => ({
  ...Object.fromEntries(CHAIN.map((p) => [p, dir])),
  ...but,
});
export const referenceHas = (type: string): boolean => existsSync(join(REFERENCE_BIN, type));
export const REFERENCE = REFERENCE_BIN;
