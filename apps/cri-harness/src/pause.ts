import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { run } from '@tscni/net/host';

/**
 * The pod's pause process: `sleep infinity` (a ~100 kB private footprint, no Node.js) exec'd through
 * `unshare --uts --ipc` so it holds the pod's own UTS and IPC namespaces, entered into the pod netns.
 * It runs in its own session, so the harness can restart (even kill -9) without taking pods down.
 * Its environment names the pod and the harness state dir: that is how start-up finds orphans.
 */
export interface PauseProcess {
  pid: number;
  startTime: string;
}

export const PAUSE_ENV_SANDBOX = 'TSCNI_CRI_SANDBOX';
export const PAUSE_ENV_STATE = 'TSCNI_CRI_STATE_DIR';

/** Children we spawned in this run of the harness: their exit is reaped by Node. */
const children = new Map<number, ChildProcess>();

export async function startPause(opts: {
  sandboxId: string;
  stateDir: string;
  netns?: string;
  hostname: string;
}): Promise<PauseProcess> {
  const sleeper = ['unshare', '--uts', '--ipc', '--', 'sleep', 'infinity'];
  const [file, args] = opts.netns
    ? ['nsenter', [`--net=${opts.netns}`, '--', ...sleeper]]
    : [sleeper[0], sleeper.slice(1)];
  const child = spawn(file, args, {
    detached: true,
    stdio: 'ignore',
    env: {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      [PAUSE_ENV_SANDBOX]: opts.sandboxId,
      [PAUSE_ENV_STATE]: opts.stateDir,
    },
  });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (e) => reject(new Error(`failed to start the pause process: ${e.message}`)));
    child.once('exit', (code, signal) =>
      reject(new Error(`the pause process exited at start (${signal ?? `code ${code}`})`)),
    );
  });
  exited.catch(() => {});
  child.unref();
  const pid = await Promise.race([waitForExec(child), exited]).catch((e) => {
    child.kill('SIGKILL');
    throw e;
  });
  children.set(pid, child);
  child.once('exit', () => children.delete(pid));
  const pause = { pid, startTime: startTimeOf(pid)! };
  if (opts.hostname) {
    try {
      await run('nsenter', [`--target=${pid}`, '--uts', '--', 'hostname', opts.hostname]);
    } catch (e) {
      await stopPause(pause);
      throw e;
    }
  }
  return pause;
}

/** Wait until nsenter and unshare have exec'd into sleep, i.e. the namespaces are in place. */
async function waitForExec(child: ChildProcess): Promise<number> {
  const pid = child.pid;
  if (pid === undefined) return new Promise(() => {}); // 'error' fires instead
  for (let i = 0; i < 500; i++) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep') return pid;
    } catch {
      /* not there yet or already gone: the exit handler reports it */
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error('the pause process did not start within 1 s');
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or undefined when the pid is gone or a zombie. */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

/** True while this exact process (same pid and start time) is alive. */
export const pauseAlive = (p: PauseProcess): boolean => startTimeOf(p.pid) === p.startTime;

/** SIGKILL the pause process and wait until it is gone; a process already gone is fine. */
export async function stopPause(p: PauseProcess): Promise<void> {
  if (!pauseAlive(p)) return;
  const child = children.get(p.pid);
  const exited = child ? new Promise((r) => child.once('exit', r)) : undefined;
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    return;
  }
  if (exited) await exited;
  for (let i = 0; i < 1000 && pauseAlive(p); i++) await new Promise((r) => setTimeout(r, 5));
  if (pauseAlive(p)) throw new Error(`pause process ${p.pid} did not exit after SIGKILL`);
}

/** Pause processes of this state dir whose sandbox is not in `known` (left by a crash between spawn and save). */
export function findOrphanPauses(stateDir: string, known: (sandboxId: string, pid: number) => boolean): number[] {
  const orphans: number[] = [];
  for (const entry of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    const pid = Number(entry);
    let env: string;
    try {
      env = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    const vars = new Map(
      env.split('\0').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const),
    );
    const sandbox = vars.get(PAUSE_ENV_SANDBOX);
    if (sandbox && vars.get(PAUSE_ENV_STATE) === stateDir && !known(sandbox, pid)) orphans.push(pid);
  }
  return orphans;
}
