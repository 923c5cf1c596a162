import { invalidConfig } from '@tscni/cni/errors';
import { exists, readText } from '@tscni/cni/files';

/** Where the node's sysctl allowlist lives; `TSCNI_TUNING_ALLOWLIST` overrides it (tests, non-standard nodes). */
export const DEFAULT_ALLOWLIST = '/etc/cni/tuning/allowlist.conf';
export const allowlistPath = (env: NodeJS.ProcessEnv): string => env.TSCNI_TUNING_ALLOWLIST || DEFAULT_ALLOWLIST;

/** One sysctl to write: the config's key, its file under /proc/sys/net, and the key as sysctl(8) takes it. */
export interface SysctlTarget {
  key: string;
  path: string;
  sysctlKey: string;
  value: string;
}

// A path segment: what interface names and sysctl names are made of (dots only inside an interface name).
const SEGMENT = /^[A-Za-z0-9_\-@.]+$/;

/**
 * Resolve a config key like the reference: `.` and `/` separate path segments, the literal `IFNAME`
 * becomes CNI_IFNAME (substituted per segment, so an interface name with dots stays one segment), and
 * the result must be a file under /proc/sys/net/.
 */
export function resolveSysctl(key: string, value: string, ifName: string, field: string): SysctlTarget {
  const segments = key.split(/[./]/).map((s) => s.replaceAll('IFNAME', ifName));
  // An empty segment (`net/../x`, `net..x`) is no sysctl name: refuse it rather than guess what was meant.
  const bad =
    segments.length < 2 || segments[0] !== 'net' || segments.some((s) => !SEGMENT.test(s) || s === '.' || s === '..');
  if (bad) throw invalidConfig(field, `invalid net sysctl key: ${JSON.stringify(key)}`);
  // sysctl(8) takes `key=value` and the kernel files hold one line.
  if (/[\n\r=]/.test(value)) throw invalidConfig(`${field}.${key}`, 'a sysctl value is one line without "="');
  return {
    key,
    path: `/proc/sys/${segments.join('/')}`,
    // sysctl(8) splits on dots; a slash inside a segment stands for a dot of an interface name.
    sysctlKey: segments.map((s) => s.replaceAll('.', '/')).join('.'),
    value,
  };
}

/**
 * Resolve every entry of one `sysctl` object; two keys naming the same file are a duplicate
 * (the reference rejects duplicated keys too).
 */
export function resolveSysctls(entries: Record<string, string>, ifName: string, field: string): SysctlTarget[] {
  const byPath = new Map<string, SysctlTarget>();
  for (const [key, value] of Object.entries(entries)) {
    const target = resolveSysctl(key, value, ifName, field);
    const seen = byPath.get(target.path);
    if (seen)
      throw invalidConfig(
        field,
        `duplicated sysctl keys are not allowed: ${JSON.stringify(seen.key)} and ${JSON.stringify(key)}`,
      );
    byPath.set(target.path, target);
  }
  return [...byPath.values()];
}

/** Config sysctls with the `args.cni.sysctl` entries merged over them (an override of the same file wins). */
export function mergeSysctls(base: SysctlTarget[], overrides: SysctlTarget[]): SysctlTarget[] {
  const byPath = new Map(base.map((t) => [t.path, t]));
  for (const t of overrides) byPath.set(t.path, t);
  return [...byPath.values()];
}

/**
 * The node's allowlist: one regular expression per line, matched (unanchored, like Go's
 * regexp.MatchString) against the key as written in the config, so `IFNAME` patterns work.
 * A missing file allows everything.
 */
export function checkAllowlist(targets: SysctlTarget[], file: string): void {
  if (targets.length === 0 || !exists(file)) return;
  const lines = readText(file)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  let patterns: RegExp[];
  try {
    patterns = lines.map((l) => new RegExp(l));
  } catch (e) {
    throw new Error(`invalid sysctl allowlist ${file}: ${(e as Error).message}`);
  }
  for (const t of targets) {
    if (!patterns.some((p) => p.test(t.key))) {
      throw invalidConfig(
        'sysctl',
        `Sysctl ${t.key} is not allowed. Only the following sysctls are allowed: [${lines.join(' ')}]`,
      );
    }
  }
}

/** Sysctl values as the kernel prints them vs as configured: the same words (tabs and newlines are spaces). */
export const sameSysctlValue = (configured: string, current: string): boolean =>
  configured.trim().split(/\s+/).join(' ') === current.trim().split(/\s+/).join(' ');
