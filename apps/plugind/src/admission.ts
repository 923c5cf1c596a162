import { statSync } from 'node:fs';
import type { PlugindRequest } from './protocol';

/** What a call must share with the daemon for the daemon to run it as the shim's fallback executable would. */
export interface Home {
  /** `<st_dev>:<st_ino>` of the daemon's network namespace: a plugin's own namespace is the host side of a call. */
  netns: string;
  /** The same of its mount namespace, where a call's paths (CNI_NETNS, data dirs, /run) resolve. */
  mntns: string;
  /** The executable the daemon's code came from, as `fileIdentity` gives it. */
  executable: string;
  /** The daemon's own `TSCNI_*` settings (`settingsOf`). */
  settings: string;
  plugins: ReadonlySet<string>;
}

export function homeOf(executable: string, plugins: Iterable<string>): Home {
  const ns = (kind: string) => {
    const st = statSync(`/proc/thread-self/ns/${kind}`);
    return `${st.dev}:${st.ino}`;
  };
  return {
    netns: ns('net'),
    mntns: ns('mnt'),
    executable: fileIdentity(executable) ?? '',
    settings: settingsOf(process.env),
    plugins: new Set(plugins),
  };
}

/** Why the daemon will not run this call (the shim then runs its fallback executable), or undefined: it will. */
export function declineReason(req: PlugindRequest, home: Home): string | undefined {
  if (!home.plugins.has(req.plugin)) return `${req.plugin} is not run in-process`;
  // VERSION touches no namespace and no path: it is answered wherever the caller runs.
  const version = req.env.CNI_COMMAND === 'VERSION';
  if (req.netns !== home.netns && !version) return 'the caller is in another network namespace';
  if (req.mntns !== home.mntns && !version) return 'the caller is in another mount namespace';
  if (settingsOf(req.env) !== home.settings) return "the caller's TSCNI_* settings differ from the daemon's";
  if (fileIdentity(req.fallback) !== home.executable)
    return `${req.fallback} is not the executable this daemon runs (upgraded? restart tscni-plugind)`;
  return undefined;
}

/** Device, inode, size and mtime of the file a path names (links followed), or undefined when it is not there. */
function fileIdentity(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/** The `TSCNI_*` variables that change what a plugin does (where it keeps state …), the daemon's own left out. */
function settingsOf(env: Record<string, string | undefined>): string {
  return Object.keys(env)
    .filter((k) => k.startsWith('TSCNI_') && !k.startsWith('TSCNI_PLUGIND'))
    .sort()
    .map((k) => `${k}=${env[k]}`)
    .join('\0');
}
