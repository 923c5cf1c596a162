/** The runtime's view of one attachment: everything but the network configuration (libcni `RuntimeConf`). */
export interface RuntimeConf {
  containerID: string;
  netNS: string;
  ifName: string;
  /** CNI_ARGS pairs, in order (`K=V;K=V` on the wire). */
  args?: [string, string][];
  /** Capability arguments; each plugin only sees the ones its `capabilities` enables (`runtimeConfig`). */
  capabilityArgs?: Record<string, unknown>;
  /** Deprecated in libcni: the CNIConfig's cacheDir wins. */
  cacheDir?: string;
}

/** One plugin of a list: its decoded object and the exact bytes it was loaded from. */
export interface PluginConfig {
  network: Record<string, unknown> & { type: string; name?: string; capabilities?: Record<string, unknown> };
  bytes: Buffer;
}

/** A network configuration list (conflist), with the version libcni selected from cniVersion ∪ cniVersions. */
export interface NetworkConfigList {
  name: string;
  cniVersion: string;
  cniVersions?: string[];
  disableCheck: boolean;
  disableGC: boolean;
  loadOnlyInlinedPlugins?: boolean;
  plugins: PluginConfig[];
  /** The list's bytes as loaded: this is what the result cache stores (base64) as `config`. */
  bytes: Buffer;
}

/** A cached attachment (libcni `NetworkAttachment`). */
export interface NetworkAttachment {
  containerID: string;
  network: string;
  ifName: string;
  config: Buffer;
  netNS?: string;
  cniArgs?: [string, string][];
  capabilityArgs?: Record<string, unknown>;
}

export interface GCAttachment {
  containerID: string;
  ifname: string;
}

export interface GCArgs {
  validAttachments: GCAttachment[];
}

/** A result in whatever version the list speaks (the plugin's JSON). */
export type ResultJSON = Record<string, unknown>;
