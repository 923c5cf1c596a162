import { CniError, compareVersions, findInPath, validateNetworkName } from '@tscni/cni';
import type { NetworkConfigList } from './types';

/**
 * libcni's `ValidateNetworkList`, reporting every problem instead of stopping: the network name is
 * usable, each plugin binary is in the bin dirs and its VERSION answer lists the list's cniVersion.
 * Also returns the union of the capabilities the plugins enable.
 */
export async function findProblems(
  list: NetworkConfigList,
  probe: (type: string) => Promise<string[]>,
  binDirs: readonly string[],
): Promise<{ problems: string[]; capabilities: string[] }> {
  const problems: string[] = [];
  try {
    validateNetworkName(list.name);
  } catch (e) {
    problems.push(
      `network name ${JSON.stringify(list.name)}: ${(e as CniError).msg ?? (e as Error).message}; use letters, digits, '_', '.', '-' (starting with a letter or digit)`,
    );
  }
  if (list.plugins.length === 0) problems.push('the list has no plugins: add at least one object to "plugins"');
  const version = list.cniVersion || '0.1.0';
  const capabilities = new Set<string>();
  const perPlugin = await Promise.all(
    list.plugins.map(async (plugin, i) => {
      for (const [cap, enabled] of Object.entries(plugin.network.capabilities ?? {}))
        if (enabled === true) capabilities.add(cap);
      const type = plugin.network.type;
      const where = `plugins[${i}] (type "${type}")`;
      try {
        findInPath(type, binDirs);
      } catch {
        if (binDirs.length === 0)
          return `${where}: binary not found: no plugin directories given (set CNI_PATH to the directory holding the plugins)`;
        return `${where}: binary not found in [${binDirs.join(' ')}]: install it there or fix "type"`;
      }
      let supported: string[];
      try {
        supported = await probe(type);
      } catch (e) {
        return `${where}: VERSION probe failed: ${(e as Error).message}`;
      }
      if (!supported.includes(version)) {
        const newest = [...supported].filter(isSemver).sort(compareVersions).at(-1);
        return `${where}: does not support config version "${version}" (it supports ${supported.join(', ') || 'nothing'})${newest ? `: set "cniVersion" to "${newest}" or list it in "cniVersions"` : ''}`;
      }
      return undefined;
    }),
  );
  for (const p of perPlugin) if (p) problems.push(p);
  return { problems, capabilities: [...capabilities].sort() };
}

const isSemver = (v: string) => /^\d+\.\d+\.\d+$/.test(v);
