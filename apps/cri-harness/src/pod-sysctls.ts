import { status } from '@grpc/grpc-js';
import { failureReason, run } from '@tscni/net/host';
import type { PodSandboxConfig } from './cri-types';
import { CriError, invalidArgument } from './cri-error';

/**
 * `linux.sysctls` of a pod sandbox, as runc applies them: only sysctls of a namespace the pod owns — `net.*` in
 * the pod's netns, the IPC ones (`kernel.shm*`, `kernel.msg*`, `kernel.sem`, `fs.mqueue.*`) in the IPC namespace
 * the pause process holds. Anything else would change the node and is refused before anything is made.
 */
export interface SysctlPlan {
  net: Sysctl[];
  ipc: Sysctl[];
}

interface Sysctl {
  name: string;
  /** Below /proc/sys. */
  path: string;
  value: string;
}

const IPC_KERNEL = new Set(['shmall', 'shmmax', 'shmmni', 'shm_rmid_forced', 'msgmax', 'msgmnb', 'msgmni', 'sem']);
const DOT_PART = /^[A-Za-z0-9_-]+$/;
// In the slash form a component may hold dots (an interface such as eth0.100), never '.' or '..' alone.
const SLASH_PART = /^[A-Za-z0-9_-][A-Za-z0-9_.:-]*$/;

/** Check and classify the pod's sysctls; INVALID_ARGUMENT names the first one that cannot be set. */
export function planSysctls(config: PodSandboxConfig, networkMode: string): SysctlPlan {
  const plan: SysctlPlan = { net: [], ipc: [] };
  const ipcMode = config.linux?.security_context?.namespace_options?.ipc ?? 'POD';
  for (const [name, value] of Object.entries(config.linux?.sysctls ?? {})) {
    const slash = name.includes('/');
    const parts = name.split(slash ? '/' : '.');
    if (name.length > 253 || !parts.every((p) => (slash ? SLASH_PART : DOT_PART).test(p) && p !== '..'))
      throw invalidArgument(`sysctl ${JSON.stringify(name)} is not a valid sysctl name`);
    if (value.length > 4096 || /[\0\n]/.test(value))
      throw invalidArgument(`sysctl ${JSON.stringify(name)}: the value must be one line`);
    const sysctl = { name, path: parts.join('/'), value };
    if (parts[0] === 'net' && parts.length > 1) {
      if (networkMode === 'NODE')
        throw invalidArgument(
          `sysctl ${JSON.stringify(name)} is not allowed: the pod uses the node's network namespace`,
        );
      plan.net.push(sysctl);
    } else if (
      (parts[0] === 'kernel' && parts.length === 2 && IPC_KERNEL.has(parts[1])) ||
      (parts[0] === 'fs' && parts[1] === 'mqueue' && parts.length === 3)
    ) {
      if (ipcMode === 'NODE')
        throw invalidArgument(`sysctl ${JSON.stringify(name)} is not allowed: the pod uses the node's IPC namespace`);
      plan.ipc.push(sysctl);
    } else {
      throw invalidArgument(
        `sysctl ${JSON.stringify(name)} is not in a separate kernel namespace (a pod may set net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.*)`,
      );
    }
  }
  return plan;
}

/** Write them: net.* inside the pod netns, the IPC ones inside the pause process's IPC namespace. */
export async function applySysctls(plan: SysctlPlan, netns: string | undefined, pausePid: number): Promise<void> {
  const write = async (s: Sysctl, enter: string[]) => {
    try {
      await run('nsenter', [...enter, '--', 'tee', `/proc/sys/${s.path}`], { input: s.value });
    } catch (e) {
      const why = failureReason(e).replace(/^tee: /, '');
      throw new CriError(
        status.INVALID_ARGUMENT,
        `failed to set sysctl ${JSON.stringify(s.name)} to ${JSON.stringify(s.value)}: ${why}`,
      );
    }
  };
  for (const s of plan.net) await write(s, [`--net=${netns}`]);
  for (const s of plan.ipc) await write(s, [`--target=${pausePid}`, '--ipc']);
}
