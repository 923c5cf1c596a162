/**
 * Optional (--etcd-endpoints): publishes each running pod's IP, namespace, labels and node to etcd
 * for the agents' network policy (<prefix>/pods/<namespace>/<name>, see docs/policy.md), and removes
 * it when the sandbox stops. A failure is logged, never fails the CRI call: policy follows on the next
 * publish or by the agent's periodic read.
 */
import { EtcdGateway, isNamespaceName, isObjectName, parseLabels, podKeyOf } from '@tscni/policy';
import { log } from './log';
import type { SandboxRecord } from './sandbox-store';

export class PodPublisher {
  private readonly etcd: EtcdGateway;

  constructor(endpoints: string[], private readonly prefix: string, private readonly node: string) {
    this.etcd = new EtcdGateway(endpoints);
  }

  private key(rec: SandboxRecord): string | undefined {
    const { name, namespace } = rec.config.metadata ?? { name: '', namespace: '' };
    if (!isNamespaceName(namespace) || !isObjectName(name)) {
      log('warn', 'PodNotPublished', { sandbox: rec.id, reason: `${namespace}/${name} is not a Kubernetes namespace/name` });
      return undefined;
    }
    return podKeyOf(this.prefix, namespace, name);
  }

  async published(rec: SandboxRecord): Promise<void> {
    const key = this.key(rec);
    if (!key || !rec.network?.ip) return;
    try {
      const labels = parseLabels(rec.config.labels ?? {}, 'labels');
      await this.etcd.put(key, JSON.stringify({ ip: rec.network.ip, labels, node: this.node, sandbox: rec.id }));
    } catch (err) {
      log('warn', 'PodNotPublished', { sandbox: rec.id, error: (err as Error).message });
    }
  }

  async withdrawn(rec: SandboxRecord): Promise<void> {
    const key = this.key(rec);
    if (!key) return;
    try {
      // Only this sandbox's entry: a newer sandbox of the same pod may have replaced it.
      const current = await this.etcd.get(key);
      if (current !== undefined && (JSON.parse(current) as { sandbox?: string }).sandbox === rec.id) await this.etcd.delete(key);
    } catch (err) {
      log('warn', 'PodNotWithdrawn', { sandbox: rec.id, error: (err as Error).message });
    }
  }
}
