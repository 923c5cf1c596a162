import type { PluginFuncs } from '@tscni/cni';
import { embedDelegate } from '@tscni/cni/embedded-delegate';

/**
 * Embed our IPAM plugins in a main plugin's bundle. `require` inside the loader keeps their code from
 * running at start-up: it is evaluated only when a delegation to our own build actually happens.
 */
export function embedIpamDelegates(): void {
  embedDelegate('host-local', () => (require('@tscni/host-local/plugin') as { hostLocal: PluginFuncs }).hostLocal);
  embedDelegate('static', () => (require('@tscni/static/plugin') as { staticIPAM: PluginFuncs }).staticIPAM);
}
