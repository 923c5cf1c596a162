/**
 * A "node" for a real container runtime: a TestNode network namespace plus a private mount namespace
 * in which /run and /var/lib are bind mounts of directories under the node's tmp dir. The runtime
 * (containerd, podman) runs in both, so its bridge, iptables/nft rules, qdiscs and hostPorts live in
 * the node netns, and everything it writes to the system defaults (/run/netns, /run/containerd,
 * /var/lib/cni/{networks,results}, /run/libpod…) lands in the tmp dir — the host's are never touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readlinkSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TestNode, sh } from '@tscni/net/testing';

/** A daemon started in the node; `log` keeps the tail of its output for failure messages. */
export interface Daemon {
  child: ChildProcess;
  log: string;
}

const CGROUP_V1 = '/sys/fs/cgroup';

/** Remove a cgroup directory tree bottom-up (cgroupfs refuses rm -r; rmdir works once a cgroup is empty). */
function rmCgroup(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmCgroup(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    /* still populated: a process survived, reported by the suites' leftovers check */
  }
}

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
      node.destroy();
      throw err;
    }
    return node;
  }

  /** The cgroup parent for the node's pods and containers (removed again by destroy). */
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

  exec(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; allowFail?: boolean; input?: string; timeoutMs?: number } = {}): { code: number; stdout: string; stderr: string } {
    const [file, argv] = this.enter(cmd, args);
    const r = spawnSync(file, argv, { encoding: 'utf8', env: opts.env ?? process.env, input: opts.input, timeout: opts.timeoutMs ?? 120_000 });
    const out = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
    if (out.code !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${out.code}): ${out.stderr || out.stdout}`);
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

  /** Kill every process left in the node's mount namespace (shims, pause, conmon of a failed run), then the namespaces. */
  destroy(): void {
    if (this.holder?.pid && this.holder.exitCode === null) {
      let mnt = '';
      try {
        mnt = readlinkSync(`/proc/${this.holder.pid}/ns/mnt`);
      } catch {
        /* gone */
      }
      for (const pid of mnt ? this.processesIn(mnt) : []) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* exited meanwhile */
        }
      }
      this.holder.kill('SIGKILL');
    }
    for (const ctl of existsSync(CGROUP_V1) ? readdirSync(CGROUP_V1) : []) rmCgroup(join(CGROUP_V1, ctl, this.cgroupParent));
    rmCgroup(join(CGROUP_V1, this.cgroupParent));
    this.net.destroy();
  }

  private processesIn(mnt: string): number[] {
    return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
      try {
        return pid !== this.holder!.pid && readlinkSync(`/proc/${pid}/ns/mnt`) === mnt;
      } catch {
        return false;
      }
    });
  }

  /** `sleep` in a fresh private mount namespace (inside the node netns) holds the namespace; then the binds. */
  private async startHolder(): Promise<void> {
    const ours = readlinkSync('/proc/self/ns/mnt');
    this.holder = spawn('nsenter', [`--net=${this.net.path}`, '--', 'unshare', '--mount', '--propagation', 'private', '--', 'sleep', 'infinity'], { stdio: 'ignore' });
    const pid = this.holder.pid!;
    for (let i = 0; ; i++) {
      let ready = false;
      try {
        ready = readlinkSync(`/proc/${pid}/ns/mnt`) !== ours && readlinkSync(`/proc/${pid}/exe`).endsWith('/sleep');
      } catch {
        /* between execs */
      }
      if (ready) break;
      if (i > 200 || this.holder.exitCode !== null) throw new Error('mount-namespace holder did not start');
      await new Promise((r) => setTimeout(r, 25));
    }
    sh('nsenter', [`--target=${pid}`, '--mount', '--', 'mount', '--bind', this.run, '/run']);
    sh('nsenter', [`--target=${pid}`, '--mount', '--', 'mount', '--bind', this.varLib, '/var/lib']);
  }
}
