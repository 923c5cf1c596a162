import type { PodSandboxFilter, PodSandboxState } from './cri-types';
import type { SandboxManager } from './sandbox-manager';
import type { SandboxRecord } from './sandbox-store';

/** Records as the CRI messages PodSandboxStatus and ListPodSandbox return. */

const stateOf = (mgr: SandboxManager, rec: SandboxRecord): PodSandboxState =>
  mgr.isReady(rec) ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY';

function namespaceOptions(rec: SandboxRecord) {
  const o = rec.config.linux?.security_context?.namespace_options;
  return { network: o?.network ?? 'POD', pid: o?.pid ?? 'POD', ipc: o?.ipc ?? 'POD', target_id: o?.target_id ?? '' };
}

export function podSandboxStatus(mgr: SandboxManager, rec: SandboxRecord, verbose: boolean) {
  const state = stateOf(mgr, rec);
  // Like containerd: the IP is reported only while the pod's netns is open.
  const netnsOpen = !!rec.netns && !rec.netnsRemoved && state === 'SANDBOX_READY';
  const status = {
    id: rec.id,
    metadata: rec.config.metadata,
    state,
    created_at: rec.createdAt,
    network: {
      ip: netnsOpen ? (rec.network?.ip ?? '') : '',
      additional_ips: netnsOpen ? (rec.network?.additionalIps ?? []).map((ip) => ({ ip })) : [],
    },
    linux: { namespaces: { options: namespaceOptions(rec) } },
    labels: rec.config.labels ?? {},
    annotations: rec.config.annotations ?? {},
    runtime_handler: rec.runtimeHandler,
  };
  const info: Record<string, string> = {};
  if (verbose) {
    // crictl splices each value into its JSON output: every value must itself be JSON.
    info.info = JSON.stringify({
      pid: rec.pause?.pid ?? 0,
      processStatus: state === 'SANDBOX_READY' ? 'running' : 'stopped',
      netns: rec.netns && !rec.netnsRemoved ? rec.netns : '',
      netNamespaceClosed: !rec.netns || !!rec.netnsRemoved,
      hostname: rec.config.hostname,
      runtimeHandler: rec.runtimeHandler,
      config: rec.config,
      cniNetwork: rec.network ? JSON.parse(rec.network.confList).name : '',
      cniResult: rec.network?.result ?? null,
    });
  }
  return { status, info };
}

export function podSandboxItem(mgr: SandboxManager, rec: SandboxRecord) {
  return {
    id: rec.id,
    metadata: rec.config.metadata,
    state: stateOf(mgr, rec),
    created_at: rec.createdAt,
    labels: rec.config.labels ?? {},
    annotations: rec.config.annotations ?? {},
    runtime_handler: rec.runtimeHandler,
  };
}

/** ListPodSandbox's filter: id (a unique prefix, as containerd normalises it), state, exact label match. */
export function listPodSandboxes(mgr: SandboxManager, filter: PodSandboxFilter | null) {
  // A sandbox still being created is not listed (containerd adds it to its store only once it is up).
  let records = mgr.store.list().filter((r) => r.state !== 'creating');
  if (filter?.id) {
    let unique: SandboxRecord | undefined;
    try {
      unique = mgr.store.find(filter.id);
    } catch {
      unique = undefined; // ambiguous: nothing has exactly that id
    }
    records = records.filter((r) => r.id === (unique?.id ?? filter.id));
  }
  if (filter?.state) records = records.filter((r) => stateOf(mgr, r) === filter.state!.state);
  const selector = Object.entries(filter?.label_selector ?? {});
  if (selector.length) records = records.filter((r) => selector.every(([k, v]) => r.config.labels?.[k] === v));
  return records.map((r) => podSandboxItem(mgr, r));
}
