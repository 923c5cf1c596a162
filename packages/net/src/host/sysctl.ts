import { closeFile, openFile, readText, writeText } from '@tscni/cni/files';
import { CLONE_NEWNET, libc } from './libc';
import { run } from './runner';

// Dotted keys as sysctl(8) takes them; a `/` inside a segment stands for a dot in an interface name.
const KEY_RE = /^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-@:/]+)+$/;

function keyPath(key: string): string {
  if (!KEY_RE.test(key)) throw new Error(`invalid sysctl key ${JSON.stringify(key)}`);
  const segments = key.split('.').map((seg) => seg.replace(/\//g, '.'));
  if (segments.some((seg) => seg === '.' || seg === '..')) throw new Error(`invalid sysctl key ${JSON.stringify(key)}`);
  return '/proc/sys/' + segments.join('/');
}

/** Read a sysctl of the namespace this process runs in. */
export const readSysctl = (key: string): string => readText(keyPath(key)).trim();

/** Write a sysctl of this process's namespace (no process spawned). */
export function writeSysctl(key: string, value: string | number): void {
  writeText(keyPath(key), String(value));
}

/**
 * Write several sysctls inside another network namespace. Under Bun this thread enters the namespace (setns(2), as
 * the reference does), writes each file as sysctl(8) would (`value\n`, in order) and comes back, all in one
 * synchronous stretch (nothing else of this process runs meanwhile; other processes name this one's namespace
 * through `homeNetnsPath()`, which does not follow the thread). When anything of that fails, and under Node, one
 * `sysctl -w` with every key does it all (again), so its end state and its error are the ones there always were.
 */
export async function writeSysctlsIn(netns: string, values: Record<string, string | number>): Promise<void> {
  const writes = Object.entries(values).map(([k, v]): [string, string, string] => {
    const path = keyPath(k);
    if (/[\n\r=]/.test(String(v))) throw new Error(`invalid sysctl value for ${k}`);
    return [path, `${v}\n`, `${k}=${v}`];
  });
  if (!writes.length || writeInNetns(netns, writes)) return;
  await run('sysctl', ['-q', '-w', ...writes.map((w) => w[2])], { netns });
}

/** The in-process writes of `writeSysctlsIn`; false when they could not all be made (or not tried). */
function writeInNetns(netns: string, writes: [string, string, string][]): boolean {
  const c = libc();
  if (!c) return false;
  let home: number | undefined;
  let target: number | undefined;
  try {
    home = openFile('/proc/thread-self/ns/net', 'r');
    target = openFile(netns, 'r');
  } catch {
    for (const fd of [home, target]) if (fd !== undefined) closeFile(fd);
    return false;
  }
  let ok = c.setns(target, CLONE_NEWNET) === 0;
  try {
    if (ok) for (const [path, data] of writes) writeText(path, data);
  } catch {
    ok = false;
  } finally {
    // Back home before anything else runs. A thread that cannot return would do the host's work in the pod.
    if (c.setns(home, CLONE_NEWNET) !== 0) {
      process.stderr.write(`setns back to the host's network namespace failed after writing sysctls in ${netns}\n`);
      process.abort();
    }
    closeFile(home);
    closeFile(target);
  }
  return ok;
}

/** Read sysctls inside another network namespace (one `sysctl -n` call). */
export async function readSysctlsIn(netns: string, keys: string[]): Promise<string[]> {
  keys.forEach(keyPath);
  const { stdout } = await run('sysctl', ['-n', ...keys], { netns });
  return stdout.split('\n').slice(0, keys.length);
}
