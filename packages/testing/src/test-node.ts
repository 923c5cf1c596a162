/**
 * Test fixtures on the real kernel: throwaway "node" namespaces (playing the host) and "pod"
 * namespaces, plugins executed inside the node namespace, everything removed afterwards.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let counter = 0;
/** Every live TestNode: its owner's pid and its namespaces, so a crashed run's leftovers can be reaped. */
export const TEST_REGISTRY = '/run/tscni-tests';
/** A short per-run prefix (interface names are at most 15 characters). */
export const RUN_ID = `t${(process.pid % 46656).toString(36)}${Date.now().toString(36).slice(-3)}`;
export const uniqueName = (tag = ''): string => `${RUN_ID}${tag}${(counter++).toString(36)}`;

export const isRoot = (): boolean => process.getuid?.() === 0;

/** Why a kernel test cannot run here, or undefined when it can. */
export function missingForKernelTests(tools: string[] = ['ip', 'nsenter']): string | undefined {
  if (!isRoot()) return 'needs root';
  for (const t of tools) {
    if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', t]).status !== 0) return `needs ${t}`;
  }
  return undefined;
}

export function sh(
  cmd: string,
  args: string[],
  opts: { netns?: string; input?: string; allowFail?: boolean } = {},
): string {
  const [file, argv] = !opts.netns
    ? [cmd, args]
    : opts.netns.startsWith('/')
      ? ['nsenter', [`--net=${opts.netns}`, '--', cmd, ...args]]
      : ['ip', ['netns', 'exec', opts.netns, cmd, ...args]];
  const r = spawnSync(file, argv, { input: opts.input, encoding: 'utf8' });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

export interface PluginRun {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

export interface PluginEnv {
  CNI_COMMAND: string;
  CNI_CONTAINERID?: string;
  CNI_NETNS?: string;
  CNI_IFNAME?: string;
  CNI_PATH?: string;
  CNI_ARGS?: string;
  [k: string]: string | undefined;
}

/** A namespace standing in for a Kubernetes node; plugins run inside it. */
export class TestNode {
  readonly name: string;
  readonly pods: string[] = [];
  readonly tmp: string;

  constructor(tag = 'n') {
    this.name = uniqueName(tag);
    // Registered first, so a runner that dies before afterAll leaves something the next run can reap.
    mkdirSync(TEST_REGISTRY, { recursive: true });
    writeFileSync(join(TEST_REGISTRY, this.name), `${process.pid}\n${this.name}\n`);
    sh('ip', ['netns', 'add', this.name]);
    sh('ip', ['link', 'set', 'lo', 'up'], { netns: this.name });
    this.tmp = mkdtempSync(join(tmpdir(), `${this.name}-`));
  }

  get path(): string {
    return `/var/run/netns/${this.name}`;
  }

  /** A new pod namespace; returns its path. */
  addPod(tag = 'p'): string {
    const name = uniqueName(tag);
    appendFileSync(join(TEST_REGISTRY, this.name), `${name}\n`);
    sh('ip', ['netns', 'add', name]);
    this.pods.push(name);
    return `/var/run/netns/${name}`;
  }

  /** Run a command in the node namespace. */
  exec(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
    return sh(cmd, args, { ...opts, netns: this.name });
  }

  /** Where ipMasq records its backends for plugins this node runs (not the host's /run/cni/ipmasq). */
  get ipMasqStateDir(): string {
    return join(this.tmp, 'ipmasq-state');
  }

  /** Run a plugin binary in the node namespace with the given env and config. */
  runPlugin(bin: string, env: PluginEnv, config: unknown): Promise<PluginRun> {
    return runInNetns(
      this.name,
      bin,
      { TSCNI_IPMASQ_STATE_DIR: this.ipMasqStateDir, ...env },
      typeof config === 'string' ? config : JSON.stringify(config),
    );
  }

  destroy(): void {
    for (const p of this.pods) sh('ip', ['netns', 'delete', p], { allowFail: true });
    sh('ip', ['netns', 'delete', this.name], { allowFail: true });
    rmSync(this.tmp, { recursive: true, force: true });
    rmSync(join(TEST_REGISTRY, this.name), { force: true });
  }
}

export function runInNetns(netns: string | undefined, bin: string, env: PluginEnv, stdin: string): Promise<PluginRun> {
  return new Promise((resolve, reject) => {
    const [file, argv] = netns ? ['ip', ['netns', 'exec', netns, bin]] : [bin, []];
    const fullEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...env };
    for (const k of Object.keys(fullEnv)) if (fullEnv[k] === undefined) delete fullEnv[k];
    const child = spawn(file, argv, { env: fullEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.stdin.on('error', () => {});
    child.on('close', (code) => {
      let json: unknown;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? -1, stdout, stderr, json });
    });
    child.stdin.end(stdin);
  });
}

/** Links of a namespace as `ip -j` prints them. */
export const linksIn = (
  netns: string,
): { ifname: string; flags: string[]; address?: string; master?: string; mtu: number }[] =>
  JSON.parse(sh('ip', ['-j', '-d', 'link', 'show'], { netns }) || '[]');

export const addrsIn = (netns: string, dev: string): string[] => {
  const out = JSON.parse(sh('ip', ['-j', 'addr', 'show', 'dev', dev], { netns, allowFail: true }) || '[]');
  return (out[0]?.addr_info ?? [])
    .filter((a: { scope: string }) => a.scope !== 'link')
    .map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`);
};

export const netnsPathExists = (p: string): boolean => existsSync(p);

/**
 * Directory of our plugins: `TSCNI_CNI_BIN`, else the build of the plugin runtime in force — `TSCNI_PLUGIN_RUNTIME`,
 * else the switch `tscni.pluginRuntime` of the root package.json (tools/plugin-runtime.mjs; the vitest global setup
 * sets `TSCNI_CNI_BIN` from it, the bench scripts run without it). And the reference plugins' directory.
 */
export const DIST_BIN = process.env.TSCNI_CNI_BIN || defaultPluginBinDir();
function defaultPluginBinDir(): string {
  const repo = join(import.meta.dirname, '../../..');
  const runtime =
    process.env.TSCNI_PLUGIN_RUNTIME ||
    (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { tscni: { pluginRuntime: string } }).tscni
      .pluginRuntime;
  return join(repo, runtime === 'bun' ? 'dist/bun/cni-bin' : 'dist/cni-bin');
}
export const REFERENCE_BIN = '/usr/lib/cni';

/** `nsenter`'s argv to run `argv` inside the netns at `netPath` and a private mount namespace of its own (each execs). */
export const inNetnsPrivateMounts = (netPath: string, argv: string[]): string[] => [
  `--net=${netPath}`,
  '--',
  'unshare',
  '--mount',
  '--propagation',
  'private',
  '--',
  ...argv,
];
export const referenceAvailable = (type: string): boolean => existsSync(join(REFERENCE_BIN, type));

/** The versions the Debian reference plugins (v1.1.1) speak: everything up to 1.0.0. */
export const REFERENCE_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'];

/** Our plugin and, where Debian's package is installed, the reference one: the same suite runs against both. */
export function implementations(type: string): { name: string; bin: string; present: boolean; versions: string[] }[] {
  return [
    { name: 'tscni', bin: join(DIST_BIN, type), present: true, versions: [...REFERENCE_VERSIONS, '1.1.0'] },
    {
      name: 'reference',
      bin: join(REFERENCE_BIN, type),
      present: referenceAvailable(type),
      versions: REFERENCE_VERSIONS,
    },
  ];
}

/**
 * A CNI_PATH directory of symlinks choosing, per plugin type, our build or the reference one:
 * `binDir(node.tmp, { bridge: 'reference', 'host-local': 'ours' })`. 'auto' takes ours when it is built.
 */
export function binDir(parent: string, choice: Record<string, 'ours' | 'reference' | 'auto'>): string {
  const dir = mkdtempSync(join(parent, 'bin-'));
  for (const [type, which] of Object.entries(choice)) {
    const ours = join(DIST_BIN, type);
    const target = which === 'ours' || (which === 'auto' && existsSync(ours)) ? ours : join(REFERENCE_BIN, type);
    symlinkSync(target, join(dir, type));
  }
  return dir;
}

/**
 * Delete the namespaces of TestNodes whose test process is gone (a runner killed before its afterAll).
 * The vitest global setup calls it, so one crashed run never accumulates into the next.
 */
export function reapStaleTestNodes(): string[] {
  if (!existsSync(TEST_REGISTRY)) return [];
  const reaped: string[] = [];
  for (const entry of readdirSync(TEST_REGISTRY)) {
    const file = join(TEST_REGISTRY, entry);
    const [pid, ...names] = readFileSync(file, 'utf8').trim().split('\n');
    if (isAlive(Number(pid))) continue;
    for (const ns of names.reverse()) {
      if (existsSync(`/var/run/netns/${ns}`)) sh('ip', ['netns', 'delete', ns], { allowFail: true });
      reaped.push(ns);
    }
    rmSync(file, { force: true });
  }
  return reaped;
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
