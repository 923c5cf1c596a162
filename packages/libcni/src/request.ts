import { injectConf } from './conf';
import type { PluginConfig, ResultJSON, RuntimeConf } from './types';

/**
 * The config one plugin receives (libcni `buildOneConfig`): the list's `name` and selected `cniVersion`,
 * `prevResult` when there is one, and `runtimeConfig` holding only the capability arguments the plugin
 * declares in `capabilities` (the key is left alone when none apply).
 */
export function buildPluginConfig(
  name: string,
  cniVersion: string,
  plugin: PluginConfig,
  prevResult: ResultJSON | undefined,
  rt: RuntimeConf | undefined,
): PluginConfig {
  const inject: Record<string, unknown> = { name, cniVersion };
  if (prevResult) inject.prevResult = prevResult;
  const runtimeConfig = rt ? capabilityArgsFor(plugin, rt.capabilityArgs) : {};
  if (Object.keys(runtimeConfig).length) inject.runtimeConfig = runtimeConfig;
  return injectConf(plugin, inject);
}

/** The capability arguments `plugin` asked for with `capabilities: {<cap>: true}`. */
export function capabilityArgsFor(
  plugin: PluginConfig,
  capabilityArgs: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const caps = plugin.network.capabilities ?? {};
  for (const [cap, enabled] of Object.entries(caps)) {
    if (enabled === true && capabilityArgs && cap in capabilityArgs && capabilityArgs[cap] !== undefined)
      out[cap] = capabilityArgs[cap];
  }
  return out;
}

/** `type="X" name="N"`, how libcni names a plugin in errors. */
export function pluginDescription(plugin: PluginConfig, listName?: string): string {
  const name = plugin.network.name ?? listName;
  return `type=${JSON.stringify(plugin.network.type)}${name ? ` name=${JSON.stringify(name)}` : ''}`;
}
