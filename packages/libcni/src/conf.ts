import {
  CniError,
  CURRENT_VERSION,
  ErrorCode,
  NetConfSchema,
  compareVersions,
  goDecode,
  parseVersion,
} from '@tscni/cni';
import type { NetworkConfigList, PluginConfig } from './types';

const configError = (msg: string): CniError => new CniError(ErrorCode.InvalidNetworkConfig, msg);

function parseObject(bytes: Buffer | string, what: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString());
  } catch (e) {
    throw configError(`error parsing ${what}: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw configError(`error parsing ${what}: not a JSON object`);
  return raw as Record<string, unknown>;
}

/** One plugin object (libcni `NetworkPluginConfFromBytes` / deprecated `ConfFromBytes`): it needs a `type`. */
export function confFromBytes(bytes: Buffer | string): PluginConfig {
  // Go's libcni decodes a plugin object into types.NetConf: keys match case-insensitively, null is unset.
  const network = goDecode(NetConfSchema, parseObject(bytes, 'configuration')) as Record<string, unknown>;
  if (typeof network.type !== 'string' || network.type === '')
    throw configError("error parsing configuration: missing 'type'");
  if (
    network.capabilities !== undefined &&
    (typeof network.capabilities !== 'object' || network.capabilities === null || Array.isArray(network.capabilities))
  ) {
    throw configError('error parsing configuration: capabilities must be an object');
  }
  return { network: network as PluginConfig['network'], bytes: Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes) };
}

/** A conflist from bytes (libcni `NetworkConfFromBytes`): name, the selected version, flags, plugins. */
export function confListFromBytes(bytes: Buffer | string): NetworkConfigList {
  const raw = parseObject(bytes, 'configuration list');
  if (!('name' in raw)) throw configError('error parsing configuration list: no name');
  if (typeof raw.name !== 'string')
    throw configError(`error parsing configuration list: invalid name type ${typeof raw.name}`);
  if (raw.cniVersion !== undefined && typeof raw.cniVersion !== 'string') {
    throw configError(`error parsing configuration list: invalid cniVersion type ${typeof raw.cniVersion}`);
  }
  const cniVersions = readVersions(raw.cniVersions);
  const cniVersion = selectVersion((raw.cniVersion as string | undefined) ?? '', cniVersions);
  const loadOnlyInlinedPlugins = readBool(raw, 'loadOnlyInlinedPlugins');
  const list: NetworkConfigList = {
    name: raw.name,
    cniVersion,
    ...(cniVersions ? { cniVersions } : {}),
    disableCheck: readBool(raw, 'disableCheck'),
    disableGC: readBool(raw, 'disableGC'),
    loadOnlyInlinedPlugins,
    plugins: [],
    bytes: Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes),
  };
  if (!('plugins' in raw)) {
    if (loadOnlyInlinedPlugins)
      throw configError("error parsing configuration list: `loadOnlyInlinedPlugins` is true, and no 'plugins' key");
    return list;
  }
  if (!Array.isArray(raw.plugins))
    throw configError(`error parsing configuration list: invalid 'plugins' type ${typeof raw.plugins}`);
  if (raw.plugins.length === 0) throw configError('error parsing configuration list: no plugins in list');
  raw.plugins.forEach((p, i) => {
    try {
      list.plugins.push(confFromBytes(Buffer.from(JSON.stringify(p))));
    } catch (e) {
      throw configError(`failed to parse plugin config ${i}: ${(e as Error).message}`);
    }
  });
  return list;
}

/** Upconvert a deprecated single-plugin config into a one-plugin list (libcni `ConfListFromConf`). */
export function confListFromConf(conf: PluginConfig): NetworkConfigList {
  const raw = JSON.parse(conf.bytes.toString()) as Record<string, unknown>;
  const list = {
    name: conf.network.name ?? '',
    cniVersion: (raw.cniVersion as string | undefined) ?? '',
    plugins: [raw],
  };
  return confListFromBytes(Buffer.from(JSON.stringify(list)));
}

/**
 * A single-plugin config as the one-plugin list libcni's `AddNetwork`/`DelNetwork`/… act on: its own
 * name and version, and its own bytes (what the result cache stores for it).
 */
export function singleNetworkList(conf: PluginConfig): NetworkConfigList {
  const version =
    typeof conf.network.cniVersion === 'string' && conf.network.cniVersion ? conf.network.cniVersion : '0.1.0';
  return {
    name: conf.network.name ?? '',
    cniVersion: version,
    disableCheck: false,
    disableGC: false,
    plugins: [conf],
    bytes: conf.bytes,
  };
}

/** A copy of the plugin config with `values` set at the top level (libcni `InjectConf`). */
export function injectConf(conf: PluginConfig, values: Record<string, unknown>): PluginConfig {
  const raw = JSON.parse(conf.bytes.toString()) as Record<string, unknown>;
  for (const [k, v] of Object.entries(values)) {
    if (!k) throw configError('keys cannot be empty');
    if (v === undefined || v === null) throw configError(`key '${k}' value must not be nil`);
    raw[k] = v;
  }
  return confFromBytes(Buffer.from(JSON.stringify(raw)));
}

/** `cniVersions`: strings only, each valid semver; versions newer than ours are dropped. */
function readVersions(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value))
    throw configError(`error parsing configuration list: invalid type for cniVersions: ${typeof value}`);
  return value.map((v, i) => {
    if (typeof v !== 'string')
      throw configError(`error parsing configuration list: invalid type for cniVersions index ${i}: ${typeof v}`);
    checkSemver(v, `cniVersions entry ${v} at index ${i}`);
    return v;
  });
}

/** The highest of cniVersion ∪ cniVersions that we implement (SPEC §Configuration format). */
function selectVersion(cniVersion: string, cniVersions: string[] | undefined): string {
  if (cniVersion) checkSemver(cniVersion, `cniVersion ${cniVersion}`);
  if (!cniVersions) return cniVersion || '0.1.0';
  const candidates = [...cniVersions, ...(cniVersion ? [cniVersion] : [])].filter(
    (v) => compareVersions(v, CURRENT_VERSION) <= 0,
  );
  candidates.sort(compareVersions);
  return candidates.at(-1) ?? (cniVersion || '0.1.0');
}

function checkSemver(v: string, what: string): void {
  try {
    parseVersion(v);
  } catch (e) {
    throw configError(`error parsing configuration list: invalid ${what}: ${(e as Error).message}`);
  }
}

/** libcni accepts a bool or the strings "true"/"false" (any case). */
function readBool(raw: Record<string, unknown>, key: string): boolean {
  const v = raw[key];
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'string') throw configError(`error parsing configuration list: invalid type ${typeof v} for ${key}`);
  const s = v.toLowerCase();
  if (s === 'true' || s === 'false') return s === 'true';
  throw configError(`error parsing configuration list: invalid value "${s}" for ${key}`);
}
