/**
 * Optional (--etcd-endpoints, and --etcd-cafile/certfile/keyfile for TLS): publishes each running pod's
 * IP, namespace, labels and node to etcd for the agents' network policy (<prefix>/pods/<namespace>/<name>,
 * see docs/policy.md), and removes it when the sandbox stops. A failure is logged, never fails the CRI call: policy follows on the next
 * publish or by the agent's periodic read.
 */
import type { EtcdConfig } from '@tscni/etcd';
import type { EtcdKV } from '@tscni/etcd/client';
import { isNamespaceName, isObjectName, parseLabels, podKeyOf } from '@tscni/policy';
import { log } from './log';
import type { SandboxRecord } from './sandbox-store';

export class PodPublisher {
  private kv?: Promise<EtcdKV>;

  constructor(
    private readonly etcd: EtcdConfig,
    private readonly prefix: string,
    private readonly node: string,
  ) {}

  /** The gRPC client, loaded on first use: a harness without pods to publish never parses etcd3's protos. */
  private client(): Promise<EtcdKV> {
    this.kv ??= import('@tscni/etcd/client').then(({ EtcdKV }) => new EtcdKV(this.etcd));
    return this.kv;
  }

  /** One read at start-up so that a refused certificate or an unreachable etcd is in the log before the first pod. */
  async probe(): Promise<void> {
    try {
      await (await this.client()).get(`${this.prefix}/`);
      log('info', 'EtcdConnected', { endpoints: this.etcd.endpoints.join(',') });
    } catch (err) {
      log('warn', 'EtcdUnavailable', { error: (err as Error).message });
    }
  }

  async close(): Promise<void> {
    if (this.kv) (await this.kv.catch(() => undefined))?.close();
  }

  private key(rec: SandboxRecord): string | undefined {
    const { name, namespace } = rec.config.metadata ?? { name: '', namespace: '' };
    if (!isNamespaceName(namespace) || !isObjectName(name)) {
      log('warn', 'PodNotPublished', {
        sandbox: rec.id,
        reason: `${namespace}/${name} is not a Kubernetes namespace/name`,
      });
      return undefined;
    }
    return podKeyOf(this.prefix, namespace, name);
  }

  async published(rec: SandboxRecord): Promise<void> {
    const key = this.key(rec);
    if (!key || !rec.network?.ip) return;
    try {
      const labels = parseLabels(rec.config.labels ?? {}, 'labels');
      // A dual-stack pod lists every address in ips, so the agents put it in the IPv6 sets too.
      const extra = rec.network.additionalIps ?? [];
      const ips = extra.length ? { ips: [rec.network.ip, ...extra] } : {};
      await (
        await this.client()
      ).put(key, JSON.stringify({ ip: rec.network.ip, ...ips, labels, node: this.node, sandbox: rec.id }));
    } catch (err) {
      log('warn', 'PodNotPublished', { sandbox: rec.id, error: (err as Error).message });
    }
  }

  async withdrawn(rec: SandboxRecord): Promise<void> {
    const key = this.key(rec);
    if (!key) return;
    try {
      // Only this sandbox's entry: a newer sandbox of the same pod may have replaced it.
      const kv = await this.client();
      const current = await kv.get(key);
      if (current !== undefined && (JSON.parse(current) as { sandbox?: string }).sandbox === rec.id)
        await kv.delete(key);
    } catch (err) {
      log('warn', 'PodNotWithdrawn', { sandbox: rec.id, error: (err as Error).message });
    }
  }
}
