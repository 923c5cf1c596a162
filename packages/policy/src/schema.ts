/**
 * The policy data in etcd, under a prefix (default /tscni/policy):
 *   <prefix>/namespaces/<ns>          {"labels":{...}}
 *   <prefix>/pods/<ns>/<pod>          {"ip","ips"?,"labels","node"}   (written by the CRI harness; ips: every address of a dual-stack pod)
 *   <prefix>/policies/<ns>/<name>     a networking.k8s.io/v1 NetworkPolicy (written by `tscni policy apply`)
 * A malformed value is skipped and reported, never fatal: one bad key must not stop enforcement of the rest.
 */
import { isNamespaceName, isObjectName, parseLabels, parseNetworkPolicy } from './model';
import type { Cluster } from './evaluate';

export const DEFAULT_PREFIX = '/tscni/policy';

export interface KV {
  key: string;
  value: string;
}

export function clusterFromKVs(prefix: string, kvs: KV[]): { cluster: Cluster; problems: string[] } {
  const base = `${prefix.replace(/\/+$/, '')}/`;
  const cluster: Cluster = { pods: [], namespaces: [], policies: [] };
  const problems: string[] = [];
  for (const { key, value } of kvs) {
    if (!key.startsWith(base)) continue;
    const parts = key.slice(base.length).split('/');
    try {
      const v = JSON.parse(value) as Record<string, unknown>;
      if (parts[0] === 'namespaces' && parts.length === 2 && isNamespaceName(parts[1])) {
        cluster.namespaces.push({ name: parts[1], labels: parseLabels(v.labels, 'labels') });
      } else if (parts[0] === 'pods' && parts.length === 3 && isNamespaceName(parts[1]) && isObjectName(parts[2])) {
        if (typeof v.ip !== 'string') throw new Error('ip: must be a string');
        if (v.ips !== undefined && !(Array.isArray(v.ips) && v.ips.every((x) => typeof x === 'string')))
          throw new Error('ips: must be a list of strings');
        const ips = v.ips as string[] | undefined;
        cluster.pods.push({
          namespace: parts[1],
          name: parts[2],
          ip: v.ip,
          ...(ips?.length ? { ips } : {}),
          labels: parseLabels(v.labels, 'labels'),
          ...(typeof v.node === 'string' ? { node: v.node } : {}),
        });
      } else if (parts[0] === 'policies' && parts.length === 3 && isNamespaceName(parts[1])) {
        const p = parseNetworkPolicy(v, parts[1]);
        if (p.name !== parts[2] || p.namespace !== parts[1])
          throw new Error(`metadata names ${p.namespace}/${p.name}, not the key`);
        cluster.policies.push(p);
      } else throw new Error('not a key of the schema');
    } catch (err) {
      problems.push(`${key}: ${(err as Error).message}`);
    }
  }
  return { cluster, problems };
}

const base = (prefix: string) => prefix.replace(/\/+$/, '');
export const podKeyOf = (prefix: string, namespace: string, name: string) =>
  `${base(prefix)}/pods/${namespace}/${name}`;
export const namespaceKeyOf = (prefix: string, namespace: string) => `${base(prefix)}/namespaces/${namespace}`;
export const policyKeyOf = (prefix: string, namespace: string, name: string) =>
  `${base(prefix)}/policies/${namespace}/${name}`;
