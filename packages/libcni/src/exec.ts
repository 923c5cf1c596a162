import {
  CniError,
  CURRENT_VERSION,
  ErrorCode,
  execPlugin,
  type PluginExecOptions,
  type PluginOutput,
} from '@tscni/cni';
import type { RuntimeConf } from './types';

/** How a plugin binary is run (libcni's `invoke.Exec`): swap it to run plugins elsewhere or to record calls. */
export type PluginExec = (file: string, opts: PluginExecOptions) => Promise<PluginOutput>;

export const defaultExec: PluginExec = execPlugin;

/**
 * Run every plugin inside the network namespace at `netnsPath` (a node namespace in tests, or a
 * runtime that is not itself in the host namespace). The pod netns paths it passes stay unchanged.
 */
export function execInNetns(netnsPath: string, base: PluginExec = defaultExec): PluginExec {
  if (!netnsPath.startsWith('/') || netnsPath.includes('\0'))
    throw new Error(`netns path must be absolute: ${JSON.stringify(netnsPath)}`);
  return (file, opts) => base(file, { ...opts, wrapper: ['nsenter', `--net=${netnsPath}`, '--'] });
}

export type Verb = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';

/** The parent env with the protocol's CNI_* variables laid over it (libcni `Args.AsEnv`). */
export function pluginEnv(
  command: Verb,
  rt: Partial<RuntimeConf>,
  path: readonly string[],
  parent: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  return {
    ...parent,
    CNI_COMMAND: command,
    CNI_CONTAINERID: rt.containerID ?? '',
    CNI_NETNS: rt.netNS ?? '',
    CNI_ARGS: (rt.args ?? []).map(([k, v]) => `${k}=${v}`).join(';'),
    CNI_IFNAME: rt.ifName ?? '',
    CNI_PATH: path.join(':'),
  };
}

/**
 * The VERSION probe (libcni `GetVersionInfo`): stdin `{"cniVersion":"<ours>"}`, dummy netns/ifname/path.
 * A plugin too old to know VERSION ("unknown CNI_COMMAND: VERSION") supports 0.1.0 only.
 */
export async function probeVersions(
  file: string,
  exec: PluginExec = defaultExec,
  signal?: AbortSignal,
  timeoutMs?: number,
): Promise<string[]> {
  const env = pluginEnv('VERSION', { netNS: 'dummy', ifName: 'dummy' }, ['dummy']);
  let stdout: string;
  try {
    ({ stdout } = await exec(file, { env, stdin: JSON.stringify({ cniVersion: CURRENT_VERSION }), signal, timeoutMs }));
  } catch (e) {
    if (e instanceof CniError && /unknown CNI_COMMAND: VERSION/.test(e.msg)) return ['0.1.0'];
    throw e;
  }
  let info: { cniVersion?: unknown; supportedVersions?: unknown };
  try {
    info = JSON.parse(stdout) as typeof info;
  } catch {
    throw new CniError(
      ErrorCode.DecodingFailure,
      `decoding version info: ${stdout.trim().slice(0, 200) || 'empty output'}`,
    );
  }
  if (Array.isArray(info.supportedVersions)) return info.supportedVersions.map(String);
  if (typeof info.cniVersion === 'string') return [info.cniVersion];
  throw new CniError(ErrorCode.DecodingFailure, 'decoding version info: no supportedVersions');
}
