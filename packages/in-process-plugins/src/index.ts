import { versionsSince, type PluginFuncs } from '@tscni/cni';
import type { InProcessPlugins } from '@tscni/libcni';
import type { InProcessName } from './names';

export { IN_PROCESS_NAMES, type InProcessName } from './names';

/**
 * The plugins a runtime may call in its own process instead of exec'ing them: the CRI harness when CNI_PATH resolves
 * to our build of them (libcni `inProcessExec`), and tscni-plugind (resident mode, docs/resident.md). The Kubernetes
 * chain and its IPAM. Each entry mirrors the plugin's `main.ts` (the same funcs and skeleton info, the same embedded
 * IPAM delegates); the code loads on first use.
 */
const embedIpam = async () => (await import('@tscni/embedded-ipam')).embedIpamDelegates();

export const OUR_PLUGINS: InProcessPlugins = {
  loopback: async () => ({ funcs: (await import('@tscni/loopback/plugin')).loopback as PluginFuncs }),
  bridge: async () => {
    await embedIpam();
    return { funcs: (await import('@tscni/bridge/plugin')).bridge as PluginFuncs };
  },
  ptp: async () => {
    await embedIpam();
    return { funcs: (await import('@tscni/ptp/plugin')).ptp as PluginFuncs };
  },
  'host-local': async () => ({ funcs: (await import('@tscni/host-local/plugin')).hostLocal as PluginFuncs }),
  static: async () => ({ funcs: (await import('@tscni/static/plugin')).staticIPAM as PluginFuncs }),
  portmap: async () => ({ funcs: (await import('@tscni/portmap/plugin')).portmap as PluginFuncs }),
  bandwidth: async () => ({
    funcs: (await import('@tscni/bandwidth/plugin')).bandwidth as PluginFuncs,
    info: { supportedVersions: versionsSince('0.3.0') },
  }),
  tuning: async () => ({ funcs: (await import('@tscni/tuning/plugin')).tuning as PluginFuncs }),
} satisfies Record<InProcessName, InProcessPlugins[string]>;
