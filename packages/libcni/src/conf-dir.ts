import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { CniError, ErrorCode } from '@tscni/cni';
import { confFromBytes, confListFromBytes, confListFromConf } from './conf';
import type { NetworkConfigList } from './types';

/** The extensions runtimes (kubelet, containerd, CRI-O) load from a conf dir. */
export const CONF_EXTENSIONS = ['.conf', '.conflist', '.json'];

/** Regular files of `dir` with one of `exts`, sorted lexically; a missing dir has none (libcni `ConfFiles` + sort). */
export function confFiles(dir: string, exts: string[] = CONF_EXTENSIONS): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries
    .filter((e) => !e.isDirectory() && exts.includes(extname(e.name)))
    .map((e) => e.name)
    .sort()
    .map((n) => join(dir, n));
}

/**
 * One file as a list: a `.conflist` as it is (plus `<dir>/<name>/*.conf` plugins unless
 * `loadOnlyInlinedPlugins`), a deprecated single-plugin `.conf`/`.json` upconverted.
 */
export function confListFromFile(file: string): NetworkConfigList {
  const bytes = readFileSync(file);
  if (extname(file) !== '.conflist') return confListFromConf(confFromBytes(bytes));
  const list = confListFromBytes(bytes);
  if (!list.loadOnlyInlinedPlugins && list.name && !/[/\\]|^\.\.?$/.test(list.name)) {
    for (const f of confFiles(join(file, '..', list.name), ['.conf']))
      list.plugins.push(confFromBytes(readFileSync(f)));
  }
  if (list.plugins.length === 0) throw new CniError(ErrorCode.InvalidNetworkConfig, 'no plugin configs found');
  return list;
}

export interface ConfDirEntry {
  file: string;
  list?: NetworkConfigList;
  error?: string;
}

/** Every config file of `dir` in load order, parsed or with the reason it is not usable. */
export function scanConfDir(dir: string, exts: string[] = CONF_EXTENSIONS): ConfDirEntry[] {
  return confFiles(dir, exts).map((file) => {
    try {
      return { file, list: confListFromFile(file) };
    } catch (e) {
      return { file, error: (e as Error).message };
    }
  });
}

/**
 * The network named `name` (libcni `LoadConfList`): the first `.conflist` with that name in lexical
 * order, else a single-plugin `.conf`/`.json` upconverted. Unlike libcni, one broken file does not
 * hide the others; it is named in the not-found error instead.
 */
export function loadConfList(dir: string, name: string): NetworkConfigList {
  const broken: string[] = [];
  for (const exts of [['.conflist'], ['.conf', '.json']]) {
    for (const entry of scanConfDir(dir, exts)) {
      if (entry.list?.name === name) return entry.list;
      if (entry.error) broken.push(`${entry.file}: ${entry.error}`);
    }
  }
  const all = confFiles(dir);
  const why =
    all.length === 0 ? `no net configurations found in ${dir}` : `no net configuration with name "${name}" in ${dir}`;
  throw new CniError(ErrorCode.InvalidNetworkConfig, broken.length ? `${why} (unreadable: ${broken.join('; ')})` : why);
}

/** The default network the way Kubernetes runtimes pick it: the first valid file in lexical order. */
export function loadDefaultConfList(dir: string): NetworkConfigList | undefined {
  for (const file of confFiles(dir)) {
    try {
      return confListFromFile(file);
    } catch {
      /* runtimes skip invalid files */
    }
  }
  return undefined;
}
