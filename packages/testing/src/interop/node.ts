/**
 * A "node" for a real container runtime: a TestNode network namespace plus a private mount namespace
 * in which /run and /var/lib are bind mounts of directories under the node's tmp dir. The runtime
 * (containerd, podman) runs in both, so its bridge, iptables/nft rules, qdiscs and hostPorts live in
 * the node netns, and everything it writes to the system defaults (/run/netns, /run/containerd,
 * /var/lib/cni/{networks,results}, /run/libpod…) lands in the tmp dir — the host's are never touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TestNode, inNetnsPrivateMounts, sh } from '../test-node';

/** A daemon started in the node; `log` keeps the tail of its output for failure messages. */
export interface Daemon {
  child: ChildProcess;
  log: string;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * The holder keeps the mount namespace alive. On SIGTERM (destroy) or when the test process is gone (a
 * crashed run) it SIGKILLs every process of the node — those in its mount namespace (runtime, shims,
 * conmon) and those in the node's cgroup parent (pod and container processes, which runc puts in mount
 * namespaces of their own) — waits until the cgroups are empty, removes them, and exits.
 */
const HOLDER = `
const { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync } = require('node:fs');
const [owner, parent] = [Number(process.argv[1]), process.argv[2]];
const mnt = readlinkSync('/proc/self/ns/mnt');
const cgroupDirs = () => {
  const out = [];
  const walk = (d) => { if (!existsSync(d) || !statSync(d).isDirectory()) return; out.push(d); for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(d + '/' + e.name); };
  walk('${CGROUP_ROOT}' + parent);
  for (const c of readdirSync('${CGROUP_ROOT}')) walk('${CGROUP_ROOT}/' + c + parent);
  return out;
};
const cgroupPids = () => cgroupDirs().flatMap((d) => { try { return readFileSync(d + '/cgroup.procs', 'utf8').split('\\n').filter(Boolean).map(Number); } catch { return []; } });
const kill = (pid) => { try { process.kill(pid, 'SIGKILL'); } catch {} };
function cleanUp() {
  for (const d of readdirSync('/proc')) {
    if (!/^\\d+$/.test(d) || Number(d) === process.pid) continue;
    try { if (readlinkSync('/proc/' + d + '/ns/mnt') === mnt) kill(Number(d)); } catch {}
  }
  const deadline = Date.now() + 10000;
  const removeCgroups = () => { for (const d of cgroupDirs().reverse()) { try { rmdirSync(d); } catch {} } };
  const sweep = () => { const left = cgroupPids(); left.forEach(kill); if (left.length && Date.now() < deadline) return setTimeout(sweep, 100); removeCgroups(); process.exit(0); };
  sweep();
}
process.on('SIGTERM', cleanUp);
process.stdout.write('ready\\n');
const watch = setInterval(() => { try { process.kill(owner, 0); } catch { clearInterval(watch); cleanUp(); } }, 1000);
`;

export class RuntimeNode {
  readonly net: TestNode;
  /** What the runtime sees as /run and /var/lib. */
  readonly run: string;
  readonly varLib: string;
  private holder?: ChildProcess;

  private constructor(tag: string) {
    this.net = new TestNode(tag);
    this.run = join(this.net.tmp, 'run');
    this.varLib = join(this.net.tmp, 'var-lib');
    for (const d of [this.run, this.varLib]) mkdirSync(d, { recursive: true });
  }

  static async start(tag: string): Promise<RuntimeNode> {
    const node = new RuntimeNode(tag);
    try {
      await node.startHolder();
    } catch (err) {
      await node.destroy();
      throw err;
    }
    return node;
  }

  /** The cgroup parent for the node's pods and containers (removed again by the holder). */
  get cgroupParent(): string {
    return `/${this.net.name}`;
  }

  get tmp(): string {
    return this.net.tmp;
  }

  get pid(): number {
    return this.holder!.pid!;
  }

  /** A path as the runtime sees it, reachable from the test's mount namespace (e.g. a pod netns). */
  viewOf(path: string): string {
    // /var/run is an absolute symlink, which /proc/<pid>/root would resolve in *our* mount namespace.
    return `/proc/${this.pid}/root${path.replace(/^\/var\/run\//, '/run/')}`;
  }

  /** argv prefix that runs a command in the node's network and mount namespaces. */
  enter(cmd: string, args: string[]): [string, string[]] {
    return ['nsenter', [`--target=${this.pid}`, '--mount', '--net', '--', cmd, ...args]];
  }

  exec(
    cmd: string,
    args: string[],
    opts: { env?: NodeJS.ProcessEnv; allowFail?: boolean; input?: string; timeoutMs?: number } = {},
  ): { code: number; stdout: string; stderr: string } {
    const [file, argv] = this.enter(cmd, args);
    const r = spawnSync(file, argv, {
      encoding: 'utf8',
      env: opts.env ?? process.env,
      input: opts.input,
      timeout: opts.timeoutMs ?? 120_000,
    });
    const out = {
      code: r.status ?? -1,
      stdout: r.stdout ?? '',
      stderr: (r.stderr ?? '') + (r.error ? String(r.error) : ''),
    };
    if (out.code !== 0 && !opts.allowFail)
      throw new Error(`${cmd} ${args.join(' ')} failed (${out.code}): ${out.stderr || out.stdout}`);
    return out;
  }

  /** A long-running process (a daemon) in the node's namespaces. */
  spawn(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Daemon {
    const [file, argv] = this.enter(cmd, args);
    const child = spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const daemon: Daemon = { child, log: '' };
    const keep = (d: Buffer) => {
      daemon.log = (daemon.log + d.toString()).slice(-100_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return daemon;
  }

  /** Kill every process of the node and remove its cgroups (the holder does both), then its namespaces and tmp dir. */
  async destroy(): Promise<void> {
    const holder = this.holder;
    if (holder && holder.exitCode === null && holder.signalCode === null) {
      const exited = new Promise((r) => holder.once('exit', r));
      holder.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
    }
    this.net.destroy();
  }

  /** Start the holder in a fresh private mount namespace inside the node netns, then bind /run and /var/lib. */
  private async startHolder(): Promise<void> {
    const holder = spawn(
      'nsenter',
      inNetnsPrivateMounts(this.net.path, [process.execPath, '-e', HOLDER, String(process.pid), this.cgroupParent]),
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.holder = holder;
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`mount-namespace holder did not start: ${err}`)), 60_000);
      holder.stderr!.on('data', (d) => (err += d));
      holder.stdout!.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      holder.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`mount-namespace holder exited (${code}): ${err}`));
      });
    });
    sh('nsenter', [`--target=${holder.pid}`, '--mount', '--', 'mount', '--bind', this.run, '/run']);
    sh('nsenter', [`--target=${holder.pid}`, '--mount', '--', 'mount', '--bind', this.varLib, '/var/lib']);
  }
}
