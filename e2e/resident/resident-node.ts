/**
 * A node for the resident-mode suites: a TestNode whose plugins libcni runs from a CNI_PATH (the shims'
 * dist/bun/cni-resident, or the exec'd dist/bun/cni-bin), tscni-plugind daemons in its namespace on sockets of its own,
 * and a log of every process of the Bun executable a call started (exec-log.c, LD_PRELOAD), which tells a call the
 * daemon ran (none) from one a process ran. Each test makes its own, so tests can run side by side.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CNIConfig, confListFromBytes, execInNetns, type PluginExec, type RuntimeConf } from '@tscni/libcni';
import { addrsIn, linksIn, missingForKernelTests, REFERENCE_BIN, sh, TestNode } from '@tscni/testing/node';
import { snapshot, type NodeSnapshot } from '@tscni/testing/node-state';
import { PLUGIND_EXE, PlugindProcess, RESIDENT_BIN } from '@tscni/testing/plugind';

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
    missingForKernelTests(['ip', 'nsenter', 'setpriv', 'iptables-save', 'tc', process.env.CC || 'cc']) ??
    (absent.length ? `needs ${absent.join(', ')} (npx nx run-many -t build)` : undefined)
  );
}

/** The TSCNI_* settings of this process (the plugins libcni runs inherit them), the daemon's own left out. */
export const tscniSettings = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] =>
        e[0].startsWith('TSCNI_') && !e[0].startsWith('TSCNI_PLUGIND') && e[1] !== undefined,
    ),
  );

export const PORT = 18091;
export const CAPABILITIES = {
  portMappings: [{ hostPort: PORT, containerPort: 80, protocol: 'tcp' }],
  bandwidth: { ingressRate: 8e6, ingressBurst: 1e6, egressRate: 8e6, egressBurst: 1e6 },
};

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

  /** tscni-plugind in the node's namespace, with the plugins' TSCNI_* settings unless `env` says otherwise. */
  async daemon(socket = this.socket(), env: Record<string, string> = tscniSettings()): Promise<PlugindProcess> {
    const d = await PlugindProcess.start({ socket, netns: this.node.path, env });
    this.daemons.push(d);
    if (!d.running) throw new Error(`tscni-plugind exited: ${d.stderr}`);
    return d;
  }

  /** The processes of our Bun executable started since the last call (each line: its /proc/self/exe), then forgets them. */
  bunStarts(): string[] {
    if (!existsSync(this.execLog)) return [];
    const exe = realpathSync(PLUGIND_EXE);
    const lines = readFileSync(this.execLog, 'utf8').split('\n').filter(Boolean);
    rmSync(this.execLog);
    return lines.filter((l) => l === exe);
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
    return Array.from({ length: this.runs + 10 }, (_, i) => join(this.node.tmp, `run-${i}`)).flatMap((r) => [
      join(r, 'ipam'),
      join(r, 'tuning'),
      join(r, 'cache'),
    ]);
  }

  snapshot(): NodeSnapshot {
    return snapshot(this.node, { stateDirs: this.stateDirs });
  }

  /**
   * One pod's whole life through libcni with plugins from `binDir` (exec'd inside the node's namespace, with `env` over
   * ours: the daemon's socket …): the Kubernetes chain's ADD, CHECK and DEL, what a runtime and the node saw after
   * ADD, and the Bun processes the calls started. Each run has state dirs of its own, so each pod gets the first
   * address.
   */
  async lifecycle(binDir: string, env: Record<string, string> = {}) {
    const tag = String(this.runs++);
    const dirs = this.dirs(tag);
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
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: '10.126.0.0/24' }]],
              routes: [{ dst: '0.0.0.0/0' }],
              dataDir: dirs.ipam,
            },
          },
          { type: 'portmap', capabilities: { portMappings: true }, snat: true },
          { type: 'bandwidth', capabilities: { bandwidth: true } },
          { type: 'tuning', mtu: 1400, sysctl: { 'net.ipv4.conf.IFNAME.arp_notify': '1' }, dataDir: dirs.tuning },
        ],
      }),
    );
    const extra = { LD_PRELOAD: this.preload, EXEC_LOG: this.execLog, ...env };
    const exec: PluginExec = (file, opts) =>
      execInNetns(this.node.path)(file, { ...opts, env: { ...opts.env, ...extra } });
    const cni = new CNIConfig({ binDirs: [binDir], cacheDir: dirs.cache, exec });
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
    const left = {
      cache: readdirSync(join(dirs.cache, 'results')),
      leases: readdirSync(join(dirs.ipam, 'k8s')).filter((f) => /^\d/.test(f)),
      tuning: readdirSync(dirs.tuning),
      podLinks: linksIn(pod).map((l) => l.ifname),
      veths: linksIn(this.node.name).filter((l) => l.master === 'rsbr0'),
    };
    return { seen, checkError, left, bunStarts: this.bunStarts(), result };
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
    };
    return JSON.parse(
      JSON.stringify(seen)
        .replaceAll(pod, '<netns>')
        .replaceAll(basename(pod), '<netns>')
        .replaceAll(dirs.root, '<dir>')
        .replaceAll(veth.ifname, '<veth>')
        .replace(/([0-9a-f]{2}:){5}[0-9a-f]{2}/g, '<mac>'),
    ) as typeof seen;
  }

  /** Every daemon stopped (SIGKILL), every pod netns and the node gone. */
  async dispose(): Promise<void> {
    for (const d of this.daemons) await d.stop('SIGKILL');
    this.node.destroy();
  }
}

/** A CNI_PATH choice: every chain plugin from `dir`, but those named in `but`. */
export const chainFrom = (dir: string, but: Record<string, string> = {}): Record<string, string> => ({
  ...Object.fromEntries(CHAIN.map((p) => [p, dir])),
  ...but,
});
export const referenceHas = (type: string): boolean => existsSync(join(REFERENCE_BIN, type));
export const REFERENCE = REFERENCE_BIN;
