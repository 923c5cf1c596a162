/**
 * A test client that talks to the harness exactly as crictl v1.26+ does (crictl itself is not
 * packaged for Debian 12 nor on npm): a new connection per command, Version{""} first, the same
 * per-command RPC sequences, deadlines (2 s; RunPodSandbox 2×), response validation, and pod.json
 * in crictl's format (snake_case proto names, enums as integers).
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join, resolve } from 'node:path';

/**
 * The CRI proto the harness serves (`$TSCNI_CRI_PROTO`, else the repository's), read with the harness's loader
 * options (apps/cri-harness/src/proto.ts). Loaded here rather than imported from the harness: @tscni/testing
 * depends on no app, so no project's tests form a dependency cycle through it (docs/CONTRIBUTING.md).
 */
function loadRuntimeService(): grpc.ServiceDefinition {
  const file = process.env.TSCNI_CRI_PROTO
    ? resolve(process.env.TSCNI_CRI_PROTO)
    : join(import.meta.dirname, '../../../protos/runtime/v1/api.proto');
  const service = protoLoader.loadSync(file, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  })['runtime.v1.RuntimeService'];
  if (!service || !('Version' in service)) throw new Error(`${file} does not define runtime.v1.RuntimeService`);
  return service as unknown as grpc.ServiceDefinition;
}

const service = loadRuntimeService();
const RuntimeClient = grpc.makeGenericClientConstructor(service, 'RuntimeService');

export class CrictlError extends Error {
  constructor(
    message: string,
    readonly code?: grpc.status,
  ) {
    super(message);
  }
}

type Req = Record<string, unknown>;

export class Crictl {
  /** `socket` is a path; crictl would be run as `crictl -r unix://<socket>`. */
  constructor(
    readonly socket: string,
    readonly timeoutMs = 2000,
  ) {}

  /** `crictl version` */
  async version() {
    return this.session(async (call) => call('Version', { version: 'v1' }));
  }

  /** `crictl info` (verbose unless quiet): the status plus each info value parsed as JSON. */
  async info(quiet = false) {
    return this.session(async (call) => {
      const res = await call('Status', { verbose: !quiet });
      const conditions = (res.status?.conditions ?? []) as { type: string }[];
      if (
        conditions.length < 2 ||
        !conditions.some((c) => c.type === 'RuntimeReady') ||
        !conditions.some((c) => c.type === 'NetworkReady')
      ) {
        throw new CrictlError('RuntimeReady or NetworkReady condition are not set');
      }
      return { status: res.status, ...parseInfo(res.info) } as Record<string, any>;
    });
  }

  /** `crictl runp pod.json` (`-T`: the base timeout; the call gets twice that). */
  async runp(podJson: string, opts: { runtime?: string; timeoutMs?: number } = {}): Promise<string> {
    const config = parsePodJson(podJson);
    return this.session(async (call) => {
      const res = await call(
        'RunPodSandbox',
        { config, runtime_handler: opts.runtime ?? '' },
        2 * (opts.timeoutMs ?? this.timeoutMs),
      );
      if (!res.pod_sandbox_id) throw new CrictlError('ID of the pod sandbox is empty');
      return res.pod_sandbox_id as string;
    });
  }

  /** `crictl pods [--id] [--state] [--label k=v]`: the filter is always set; sorted by creation, newest first. */
  async pods(opts: { id?: string; state?: 'ready' | 'notready'; labels?: Record<string, string> } = {}) {
    return this.session(async (call) => {
      const filter: Req = { id: opts.id ?? '', label_selector: opts.labels ?? {} };
      if (opts.state) filter.state = { state: opts.state === 'ready' ? 0 : 1 };
      const res = await call('ListPodSandbox', { filter });
      const items = res.items as { metadata: unknown; created_at: string }[];
      for (const item of items) if (!item.metadata) throw new CrictlError('pod sandbox without metadata');
      return items.sort((a, b) => (BigInt(b.created_at) > BigInt(a.created_at) ? 1 : -1));
    });
  }

  /** `crictl inspectp ID` (verbose unless quiet): validated status plus the info values parsed. */
  async inspectp(id: string, quiet = false) {
    return this.session(async (call) => {
      const res = await call('PodSandboxStatus', { pod_sandbox_id: id, verbose: !quiet });
      const s = res.status;
      if (
        !s?.id ||
        !s.metadata?.name ||
        !s.metadata.namespace ||
        !s.metadata.uid ||
        !s.created_at ||
        s.created_at === '0'
      ) {
        throw new CrictlError(`invalid PodSandboxStatus ${JSON.stringify(s)}`);
      }
      return { status: s, ...parseInfo(res.info) } as Record<string, any>;
    });
  }

  /** `crictl stopp ID` */
  async stopp(id: string): Promise<void> {
    await this.session(async (call) => call('StopPodSandbox', { pod_sandbox_id: id }));
  }

  /** `crictl rmp [-f] ID`: status first; a READY pod needs -f (then it is stopped first). */
  async rmp(id: string, force = false): Promise<void> {
    await this.session(async (call) => {
      const res = await call('PodSandboxStatus', { pod_sandbox_id: id, verbose: false });
      if (res.status.state === 'SANDBOX_READY') {
        if (!force) throw new CrictlError(`pod sandbox "${id}" is running, please stop it first`);
        await call('StopPodSandbox', { pod_sandbox_id: id });
      }
      await call('RemovePodSandbox', { pod_sandbox_id: id });
    });
  }

  /** A single RPC after the Version handshake, as the kubelet would send it (crictl has no such command). */
  async rpc(method: string, req: Req): Promise<any> {
    return this.session(async (call) => call(method, req));
  }

  /** One crictl invocation: connect, Version{""} (UNIMPLEMENTED is fatal), then `fn`, then close. */
  private async session<T>(
    fn: (call: (method: string, req: Req, timeoutMs?: number) => Promise<any>) => Promise<T>,
  ): Promise<T> {
    const client = new RuntimeClient(`unix://${this.socket}`, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    });
    const call = (method: string, req: Req, timeoutMs = this.timeoutMs) =>
      new Promise<any>((resolve, reject) => {
        const deadline = new Date(Date.now() + timeoutMs);
        (client as any)[method](req, { deadline }, (err: grpc.ServiceError | null, res: any) =>
          err ? reject(new CrictlError(err.details || err.message, err.code)) : resolve(res),
        );
      });
    try {
      const v = await call('Version', { version: '' });
      for (const k of ['version', 'runtime_name', 'runtime_version', 'runtime_api_version']) {
        if (!v[k]) throw new CrictlError('not all fields are set in VersionResponse');
      }
      return await fn(call);
    } finally {
      client.close();
    }
  }
}

/** crictl prints `{"status": …, <key>: <value parsed as JSON>}`; the harness must make every value JSON. */
function parseInfo(info: Record<string, string> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(info ?? {})) out[k] = JSON.parse(v);
  return out;
}

/** Go's encoding/json into the generated structs: snake_case keys, and enums only as integers. */
export function parsePodJson(text: string): Req {
  const config = JSON.parse(text) as Req & {
    port_mappings?: Req[];
    linux?: { security_context?: { namespace_options?: Req } };
  };
  const enumFields: [unknown, string][] = [
    ...(config.port_mappings ?? []).map(
      (p) => [p.protocol, 'PortMapping.port_mappings.protocol of type v1.Protocol'] as [unknown, string],
    ),
    ...['network', 'pid', 'ipc'].map(
      (k) =>
        [config.linux?.security_context?.namespace_options?.[k], `NamespaceOption.${k} of type v1.NamespaceMode`] as [
          unknown,
          string,
        ],
    ),
  ];
  for (const [value, field] of enumFields) {
    if (typeof value === 'string') throw new CrictlError(`json: cannot unmarshal string into Go struct field ${field}`);
  }
  return config;
}
