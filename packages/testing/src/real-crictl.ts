/**
 * The real crictl (v1.26.1, a grpc-go client: it sends the socket path as :authority) against the harness, which
 * runs in its own mount namespace (`unshare -m --propagation private`, as under systemd PrivateMounts or
 * `ip netns exec`) inside a throwaway node network namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HARNESS_BIN } from './harness-process';
import { DIST_BIN, inNetnsPrivateMounts, type TestNode } from './test-node';

const REPO = join(import.meta.dirname, '../../..');
/**
 * The real crictl: `$TSCNI_CRICTL`, else `shared/tools/crictl` beside the checkout (or beside a parent of it, for
 * worktrees). CI always has it, so a missing one fails the suite.
 */
export const CRICTL = process.env.TSCNI_CRICTL ?? findUp(REPO, 'shared/tools/crictl');

function findUp(from: string, rel: string): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, rel))) return join(dir, rel);
    if (dir === '/') return join(dirname(from), rel);
  }
}

export interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command (argument array) to its end; never throws for a non-zero exit. */
export function exec(
  file: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<Exec> & { child: ChildProcess } {
  const child = spawn(file, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  const p = new Promise<Exec>((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      // crictl quotes the gRPC message inside its log line: unescape so tests can match the message itself.
      resolve({ code, stdout, stderr: stderr.replace(/\\"/g, '"') });
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: e.message });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
  return Object.assign(p, { child });
}

export class Crictl {
  constructor(readonly socket: string) {}

  /** `crictl -r unix://<socket> -t 20s <args>`, exit status and output as they are. */
  raw(args: string[]) {
    return exec(CRICTL, ['-r', `unix://${this.socket}`, '-t', '20s', ...args]);
  }

  /** Like raw, but a failure throws with crictl's stderr; resolves with stdout. */
  async run(args: string[]): Promise<string> {
    const r = await this.raw(args);
    if (r.code !== 0) throw new Error(`crictl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  async json(args: string[]): Promise<any> {
    // Flags go before the positional arguments (crictl's flag parser stops at the first of those).
    return JSON.parse(await this.run([args[0], '-o', 'json', ...args.slice(1)]));
  }

  /** `crictl pods -q [filters]`: full ids. */
  async podIds(filters: string[] = []): Promise<string[]> {
    return (await this.run(['pods', '-q', '--no-trunc', ...filters])).split('\n').filter(Boolean);
  }
}

export interface HarnessDirs {
  socket: string;
  stateDir: string;
  confDir: string;
  cacheDir: string;
  /** The harness executable (default HARNESS_BIN: the suites' build, see harness-process.ts). */
  bin?: string;
}

/** One run of the harness: `nsenter --net=<node> -- unshare -m --propagation private -- tscni-cri …` (each execs, so the pid is the harness's). */
export class Harness {
  stderr = '';
  readonly exited: Promise<number | null>;
  private constructor(readonly child: ChildProcess) {
    child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  }

  static async start(node: TestNode, dirs: HarnessDirs): Promise<Harness> {
    const args = [
      '--socket',
      dirs.socket,
      '--state-dir',
      dirs.stateDir,
      '--cni-conf-dir',
      dirs.confDir,
      '--cni-cache-dir',
      dirs.cacheDir,
      '--cni-bin-dir',
      DIST_BIN,
      '--default-network',
      'embedded',
    ];
    const child = spawn('nsenter', inNetnsPrivateMounts(node.path, [dirs.bin ?? HARNESS_BIN, ...args]), {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const h = new Harness(child);
    const deadline = Date.now() + 30_000;
    let exited = false;
    void h.exited.then(() => (exited = true));
    while (!h.stderr.includes('"msg":"Serving"')) {
      if (exited || Date.now() > deadline) throw new Error(`the harness did not start: ${h.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return h;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The harness's mount namespace differs from ours (the pod netns pins live there, not here). */
  mountNs(): string {
    return `/proc/${this.pid}/ns/mnt`;
  }

  async kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.exited;
  }
}

export const crictlPresent = (): boolean => existsSync(CRICTL);
