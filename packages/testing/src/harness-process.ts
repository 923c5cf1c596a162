/** Start the bundled harness inside a TestNode's namespace (or a new node of its own), watch its log lines, stop or kill it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DIST_BIN, TestNode } from './test-node';

const DIST = join(import.meta.dirname, '../../../dist');
/** The harness's two builds: the Node bundle (tools/bundle.mjs) and the Bun executable (tools/bun-harness.mjs). */
export const HARNESS_BUILDS = {
  node: join(DIST, 'bin/tscni-cri'),
  bun: join(DIST, 'bun/bin/tscni-cri'),
} as const;
/**
 * The build the suites start: `$TSCNI_HARNESS_BIN`, else the plugins' runtime's (tools/plugin-runtime.mjs): the
 * vitest global setup points DIST_BIN at dist/bun/cni-bin exactly when the switch says bun.
 */
export const HARNESS_BIN =
  process.env.TSCNI_HARNESS_BIN ||
  (resolve(DIST_BIN) === resolve(DIST, 'bun/cni-bin') ? HARNESS_BUILDS.bun : HARNESS_BUILDS.node);

export interface HarnessOptions {
  socket: string;
  stateDir: string;
  confDir: string;
  binDirs: string[];
  cacheDir: string;
  defaultNetwork?: 'embedded' | 'none';
  /** Further flags, e.g. `--no-cni-in-process`, `--etcd-endpoints` for the pod publisher. */
  extraArgs?: string[];
  /** The harness executable (default HARNESS_BIN). */
  bin?: string;
  /** A mount namespace to run it in (`/proc/<pid>/ns/mnt`); default ours. */
  mountNs?: string;
}

export const harnessArgs = (o: HarnessOptions): string[] => [
  '--socket',
  o.socket,
  '--state-dir',
  o.stateDir,
  '--cni-conf-dir',
  o.confDir,
  '--cni-bin-dir',
  o.binDirs.join(':'),
  '--cni-cache-dir',
  o.cacheDir,
  '--default-network',
  o.defaultNetwork ?? 'none',
  ...(o.extraArgs ?? []),
];

/** Options whose socket, state, conf and cache dirs are fresh directories below `parent` (a node's tmp dir, or one in it). */
export function harnessDirs(parent: string, binDirs: string[], more: Partial<HarnessOptions> = {}): HarnessOptions {
  const dir = (d: string) => {
    mkdirSync(join(parent, d), { recursive: true });
    return join(parent, d);
  };
  return {
    socket: join(dir('run'), 'cri.sock'),
    stateDir: dir('state'),
    confDir: dir('net.d'),
    binDirs,
    cacheDir: dir('cache'),
    ...more,
  };
}

export class HarnessProcess {
  readonly logs: Record<string, any>[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d;
      for (const line of d.toString().split('\n')) {
        try {
          if (line.trim()) this.logs.push(JSON.parse(line));
        } catch {
          /* partial line */
        }
      }
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Spawn the harness in `node`'s netns (nsenter execs it: the pid is the harness's) without waiting. */
  static spawn(node: TestNode, opts: HarnessOptions): HarnessProcess {
    const mount = opts.mountNs ? [`--mount=${opts.mountNs}`] : [];
    const child = spawn(
      'nsenter',
      [...mount, `--net=${node.path}`, '--', opts.bin ?? HARNESS_BIN, ...harnessArgs(opts)],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    return new HarnessProcess(child);
  }

  /** Spawn and wait until it serves (or throw with its output if it exits first; one that never serves is killed). */
  static async start(node: TestNode, opts: HarnessOptions): Promise<HarnessProcess> {
    const h = HarnessProcess.spawn(node, opts);
    try {
      await h.waitForLog((l) => l.msg === 'Serving', 15_000);
    } catch (err) {
      await h.kill9();
      throw err;
    }
    return h;
  }

  /** Resolve with the first log line matching `pred` (also one already printed). */
  async waitForLog(pred: (line: Record<string, any>) => boolean, timeoutMs = 10_000): Promise<Record<string, any>> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const hit = this.logs.find(pred);
      if (hit) return hit;
      if (exited) throw new Error(`harness exited: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for a log line; stderr so far:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGTERM and wait: the harness shuts down gracefully (pods keep running). */
  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }

  /** kill -9: no clean-up at all. */
  async kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Pids of live processes whose environment names `stateDir` as their harness state dir (pause processes). */
export function pauseProcessesOf(stateDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const zombie = state.slice(state.lastIndexOf(')') + 2).startsWith('Z');
      if (!zombie && env.includes(`TSCNI_CRI_STATE_DIR=${stateDir}`)) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Sandbox records left in a state dir. */
export const recordsIn = (stateDir: string): string[] =>
  existsSync(join(stateDir, 'sandboxes')) ? readdirSync(join(stateDir, 'sandboxes')) : [];

/** Kill whatever a failed test left: pause processes of the state dir. */
export function killPauses(stateDir: string): void {
  for (const pid of pauseProcessesOf(stateDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** A pause-like process no record owns (what a crash between spawn and save would leave). */
export function spawnOrphanPause(stateDir: string, sandboxId: string): number {
  const child = spawn('sleep', ['infinity'], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH, TSCNI_CRI_SANDBOX: sandboxId, TSCNI_CRI_STATE_DIR: stateDir },
  });
  child.unref();
  return child.pid!;
}

/** A new TestNode serving the harness (harnessDirs in its tmp dir); the node is removed again if the harness does not start. */
export async function startHarnessNode(
  tag: string,
  binDirs: string[],
): Promise<{ node: TestNode; opts: HarnessOptions; harness: HarnessProcess }> {
  const node = new TestNode(tag);
  try {
    const opts = harnessDirs(node.tmp, binDirs);
    return { node, opts, harness: await HarnessProcess.start(node, opts) };
  } catch (err) {
    node.destroy();
    throw err;
  }
}
