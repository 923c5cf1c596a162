/**
 * The entry point every plugin executable uses. It answers VERSION (and the bare "about" call) from
 * constants, and only for a real verb loads the plugin — and with it zod, the schemas and the host
 * library — through `load`, which the bundler keeps unevaluated until it is called. A runtime probes
 * VERSION on every plugin it validates, so that call stays at the cost of a bare Node.js start.
 */
import type { PluginFuncs, PluginInfo } from './skel';
import { writeOutput } from './platform';
import { ALL_VERSIONS, CURRENT_VERSION } from './version';

export function runPlugin(load: () => PluginFuncs, info: PluginInfo = {}): void {
  const supported = info.supportedVersions ?? ALL_VERSIONS;
  const command = process.env.CNI_COMMAND;
  if (command === 'VERSION') {
    void writeOutput(JSON.stringify({ cniVersion: CURRENT_VERSION, supportedVersions: supported }) + '\n');
    return;
  }
  if (!command) {
    void writeOutput('', `${info.about ?? 'tscni plugin'}\nCNI protocol versions supported: ${supported.join(', ')}\n`);
    return;
  }
  (require('./skel') as typeof import('./skel')).pluginMain(load(), info);
}
export { versionsSince } from './version';
