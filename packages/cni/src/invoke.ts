import { embeddedDelegateFor, runEmbedded } from './embedded-delegate';
import { execPlugin, findInPath, pathDirs } from './exec-plugin';
import { toCurrentResult } from './result';
import type { Result } from './types';

type DelegateVerb = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS';

/**
 * Run the delegate plugin `type` (found in CNI_PATH) with the same env, CNI_COMMAND replaced,
 * and the whole config on stdin (SPEC §Delegated plugin protocol).
 */
async function delegate(
  verb: DelegateVerb,
  type: string,
  netConf: unknown,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const file = findInPath(type, pathDirs(env.CNI_PATH));
  const stdin = typeof netConf === 'string' ? netConf : JSON.stringify(netConf);
  const delegateEnv = { ...env, CNI_COMMAND: verb };
  const inProcess = embeddedDelegateFor(type, file);
  if (inProcess) return runEmbedded(inProcess, delegateEnv, stdin);
  const { stdout } = await execPlugin(file, { env: delegateEnv, stdin });
  return stdout;
}

/** Delegated ADD; the result comes back in the current shape. */
export async function delegateAdd(
  type: string,
  netConf: Record<string, unknown> | string,
  env?: NodeJS.ProcessEnv,
): Promise<Result> {
  const stdout = await delegate('ADD', type, netConf, env);
  const conf = typeof netConf === 'string' ? (JSON.parse(netConf) as Record<string, unknown>) : netConf;
  return toCurrentResult(JSON.parse(stdout), String(conf.cniVersion ?? '0.1.0'));
}

export const delegateDel = async (type: string, netConf: unknown, env?: NodeJS.ProcessEnv): Promise<void> =>
  void (await delegate('DEL', type, netConf, env));
export const delegateCheck = async (type: string, netConf: unknown, env?: NodeJS.ProcessEnv): Promise<void> =>
  void (await delegate('CHECK', type, netConf, env));
export const delegateGC = async (type: string, netConf: unknown, env?: NodeJS.ProcessEnv): Promise<void> =>
  void (await delegate('GC', type, netConf, env));
export const delegateStatus = async (type: string, netConf: unknown, env?: NodeJS.ProcessEnv): Promise<void> =>
  void (await delegate('STATUS', type, netConf, env));
