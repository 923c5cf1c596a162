import { readFileSync, writeFileSync } from 'node:fs';
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
export const readSysctl = (key: string): string => readFileSync(keyPath(key), 'utf8').trim();

/** Write a sysctl of this process's namespace (no process spawned). */
export function writeSysctl(key: string, value: string | number): void {
  writeFileSync(keyPath(key), String(value));
}

/** Write several sysctls inside another network namespace with one `sysctl -w`. */
export async function writeSysctlsIn(netns: string, values: Record<string, string | number>): Promise<void> {
  const pairs = Object.entries(values).map(([k, v]) => {
    keyPath(k);
    if (/[\n\r=]/.test(String(v))) throw new Error(`invalid sysctl value for ${k}`);
    return `${k}=${v}`;
  });
  if (pairs.length) await run('sysctl', ['-q', '-w', ...pairs], { netns });
}

/** Read sysctls inside another network namespace (one `sysctl -n` call). */
export async function readSysctlsIn(netns: string, keys: string[]): Promise<string[]> {
  keys.forEach(keyPath);
  const { stdout } = await run('sysctl', ['-n', ...keys], { netns });
  return stdout.split('\n').slice(0, keys.length);
}
