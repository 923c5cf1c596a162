/**
 * tscni-plugind (resident mode's daemon, docs/resident.md) for the suites: the real multi-call executable run as
 * `tscni-cni serve --socket …` inside a TestNode's namespace, with the environment a suite chooses (its `TSCNI_*`
 * settings must be the plugins' for the daemon to take their calls), killed with the test runner (setpriv
 * --pdeathsig), its log kept. The socket lives in a directory of the suite (never /run/tscni).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const DIST = join(import.meta.dirname, '../../../dist');
/** The Bun multi-call executable (tools/bun-build.mjs): the daemon and every plugin. */
export const PLUGIND_EXE = join(DIST, 'bun/cni-bin/tscni-cni');
/** The shim directory (a link per plugin to tscni-shim, tscni-cni beside them → ../cni-bin/tscni-cni). */
export const RESIDENT_BIN = join(DIST, 'bun/cni-resident');

/**
 * The TSCNI_* settings of `env` but the daemon's own (TSCNI_PLUGIND*): what tscni-plugind compares with a call's, so
 * what a suite starts it with when its plugins run with `env`.
 */
export const plugindSettings = (env: NodeJS.ProcessEnv = process.env): Record<string, string> =>
  Object.fromEntries(
    Object.entries(env).filter(
      (e): e is [string, string] =>
        e[0].startsWith('TSCNI_') && !e[0].startsWith('TSCNI_PLUGIND') && e[1] !== undefined,
    ),
  );

export interface PlugindOptions {
  socket: string;
  /** The network namespace (a path) to run the daemon in: its home, where the calls it takes come from. */
  netns?: string;
  /**
   * Instead of `netns`: a process whose network and mount namespaces the daemon runs in (a RuntimeNode's holder,
   * whose runtime runs its plugins in both).
   */
  target?: number;
  /** The daemon's whole environment but PATH. */
  env?: Record<string, string>;
  /** Default PLUGIND_EXE. */
  exe?: string;
  /** Further arguments after `serve --socket PATH`, e.g. `--executable PATH`. */
  args?: string[];
}

export class PlugindProcess {
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitedNow = false;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) =>
      child.on('close', (code, signal) => {
        this.exitedNow = true;
        resolve({ code, signal });
      }),
    );
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return !this.exitedNow;
  }

  /** The daemon's log lines (each `<time> tscni-plugind: <msg>`), the messages only. */
  get logs(): string[] {
    return this.stderr
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => l.replace(/^\S+ tscni-plugind: /, ''));
  }

  /**
   * Start it and wait until it logs that it serves, or exits (a daemon that cannot listen: see `exited`, `stderr`).
   * The pid is the daemon's own: setpriv and nsenter exec it.
   */
  static async start(o: PlugindOptions, timeoutMs = 30_000): Promise<PlugindProcess> {
    const exe = o.exe ?? PLUGIND_EXE;
    if (!existsSync(exe)) throw new Error(`${exe} is not built (npx nx run-many -t build)`);
    const argv = [exe, 'serve', '--socket', o.socket, ...(o.args ?? [])];
    const enter = o.target
      ? ['nsenter', `--target=${o.target}`, '--mount', '--net', '--']
      : o.netns
        ? ['nsenter', `--net=${o.netns}`, '--']
        : [];
    const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', ...enter, ...argv], {
      env: { PATH: process.env.PATH, ...o.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const p = new PlugindProcess(child);
    const deadline = Date.now() + timeoutMs;
    while (p.running && !/tscni-plugind: serving /.test(p.stderr)) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`tscni-plugind did not serve in ${timeoutMs} ms: ${p.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return p;
  }

  /** Signal it (SIGTERM: a clean stop) and wait for it to exit; SIGKILL after `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000) {
    if (this.running) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
