import type * as grpc from '@grpc/grpc-js';
import type { PodSandboxConfig, PodSandboxFilter, RuntimeCondition } from './cri-types';
import { notFound, toServiceError } from './cri-error';
import type { HarnessFlags } from './flags';
import type { SandboxManager } from './sandbox-manager';
import { listPodSandboxes, podSandboxStatus } from './sandbox-views';

export const RUNTIME_NAME = 'tscni-cri';
export const RUNTIME_VERSION = '0.1.0';
/** The CRI "version" field containerd sends; crictl only checks that it is not empty. */
const KUBE_API_VERSION = '0.1.0';

type Handler = (call: grpc.ServerUnaryCall<any, any>) => Promise<unknown>;

/** A unary handler: resolve → the response, throw → the error's gRPC status. */
const unary =
  (fn: Handler): grpc.handleUnaryCall<any, any> =>
  (call, callback) => {
    fn(call).then(
      (res) => callback(null, res),
      (err) => callback(toServiceError(err)),
    );
  };

/** The implemented runtime.v1.RuntimeService methods; gRPC answers UNIMPLEMENTED for every other one. */
export function runtimeServiceHandlers(mgr: SandboxManager, flags: HarnessFlags): grpc.UntypedServiceImplementation {
  return {
    Version: unary(async () => ({
      version: KUBE_API_VERSION,
      runtime_name: RUNTIME_NAME,
      runtime_version: RUNTIME_VERSION,
      runtime_api_version: 'v1',
    })),

    Status: unary(async (call) => {
      const net = await mgr.networks.status();
      // crictl and the kubelet reject a Status without both conditions.
      const conditions: RuntimeCondition[] = [
        { type: 'RuntimeReady', status: true, reason: '', message: '' },
        {
          type: 'NetworkReady',
          status: net.ready,
          reason: net.ready ? '' : 'NetworkPluginNotReady',
          message: net.message,
        },
      ];
      // Informative (kubelets ignore conditions they do not know): a full IPAM pool does not make the node NotReady.
      if (net.capacity)
        conditions.push({ type: 'NetworkCapacity', status: false, reason: 'IPAMRangeFull', message: net.capacity });
      const info: Record<string, string> = {};
      if (call.request.verbose) {
        info.config = JSON.stringify({
          socket: flags.socket,
          cniConfDir: flags.cniConfDir,
          cniBinDirs: flags.cniBinDirs,
          cniCacheDir: flags.cniCacheDir,
          stateDir: flags.stateDir,
          defaultNetwork: flags.defaultNetwork,
        });
        info.cniconfig = JSON.stringify({
          source: net.source ?? '',
          network: net.confList ? JSON.parse(net.confList) : null,
        });
        info.lastCNILoadStatus = JSON.stringify(net.ready ? 'OK' : net.message);
        if (net.capacity) info.networkCapacity = JSON.stringify(net.capacity);
      }
      return { status: { conditions }, info };
    }),

    RunPodSandbox: unary(async (call) => {
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      if (call.cancelled) abort.abort();
      const req = call.request as { config: PodSandboxConfig | null; runtime_handler: string };
      const rec = await mgr.run(req.config, req.runtime_handler ?? '', abort.signal);
      return { pod_sandbox_id: rec.id };
    }),

    StopPodSandbox: unary(async (call) => {
      await mgr.stop(call.request.pod_sandbox_id);
      return {};
    }),

    RemovePodSandbox: unary(async (call) => {
      await mgr.remove(call.request.pod_sandbox_id);
      return {};
    }),

    PodSandboxStatus: unary(async (call) => {
      const rec = mgr.store.get(call.request.pod_sandbox_id);
      if (rec.state === 'creating') throw notFound(call.request.pod_sandbox_id);
      return podSandboxStatus(mgr, rec, !!call.request.verbose);
    }),

    ListPodSandbox: unary(async (call) => ({
      items: listPodSandboxes(mgr, call.request.filter as PodSandboxFilter | null),
    })),
  };
}
