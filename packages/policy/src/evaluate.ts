/**
 * Kubernetes NetworkPolicy semantics as pure functions: which pods a selector picks, which policies
 * isolate a pod, and whether a connection is allowed. The nftables compiler uses the same functions,
 * so what the unit tests prove here is what the node enforces.
 */
import { cidrContains, mustCIDR, parseIP } from '@tscni/net/host';
import type { LabelSelector, NetworkPolicy, Peer, PolicyPort, PolicyType, Protocol, Rule } from './model';

export interface PodInfo {
  name: string;
  namespace: string;
  /** The primary address (the CRI's `status.network.ip`). */
  ip: string;
  /** Every address of the pod (dual-stack: the IPv4 and the IPv6 one); `ip` when absent. */
  ips?: string[];
  labels: Record<string, string>;
  node?: string;
}

/** Every address of a pod, the primary first, without duplicates. */
export const podIPs = (pod: Pick<PodInfo, 'ip' | 'ips'>): string[] => [...new Set([pod.ip, ...(pod.ips ?? [])])];
export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}
export interface Cluster {
  pods: PodInfo[];
  namespaces: NamespaceInfo[];
  policies: NetworkPolicy[];
}

export function matchesSelector(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) if (labels[k] !== v) return false;
  for (const r of sel.matchExpressions) {
    const has = Object.hasOwn(labels, r.key);
    switch (r.operator) {
      case 'In':
        if (!has || !r.values.includes(labels[r.key])) return false;
        break;
      case 'NotIn':
        if (has && r.values.includes(labels[r.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** A namespace's labels, with the `kubernetes.io/metadata.name` label the API server always sets. */
export function namespaceLabels(cluster: Pick<Cluster, 'namespaces'>, name: string): Record<string, string> {
  const ns = cluster.namespaces.find((n) => n.name === name);
  return { ...(ns?.labels ?? {}), 'kubernetes.io/metadata.name': name };
}

export const selects = (p: NetworkPolicy, pod: PodInfo): boolean =>
  p.namespace === pod.namespace && matchesSelector(p.podSelector, pod.labels);

/** The policies of a type that select the pod; the pod is isolated for that type when this is non-empty. */
export const policiesFor = (cluster: Pick<Cluster, 'policies'>, pod: PodInfo, type: PolicyType): NetworkPolicy[] =>
  cluster.policies.filter((p) => p.policyTypes.includes(type) && selects(p, pod));

/** The pods a selector peer picks (ipBlock peers pick none: they match addresses, see ipBlockContains). */
export function peerPods(cluster: Pick<Cluster, 'pods' | 'namespaces'>, policy: NetworkPolicy, peer: Peer): PodInfo[] {
  if (peer.ipBlock) return [];
  return cluster.pods.filter((pod) => {
    if (peer.namespaceSelector) {
      if (!matchesSelector(peer.namespaceSelector, namespaceLabels(cluster, pod.namespace))) return false;
    } else if (pod.namespace !== policy.namespace) return false;
    return !peer.podSelector || matchesSelector(peer.podSelector, pod.labels);
  });
}

export function ipBlockContains(block: { cidr: string; except: string[] }, ip: string): boolean {
  const addr = parseIP(ip);
  if (!addr) return false;
  const c = mustCIDR(block.cidr, 'cidr');
  if (c.ip.family !== addr.family || !cidrContains(c, addr)) return false;
  return !block.except.some((e) => cidrContains(mustCIDR(e, 'except'), addr));
}

export const portMatches = (ports: PolicyPort[], protocol: Protocol, port: number): boolean =>
  !ports.length ||
  ports.some(
    (p) => p.protocol === protocol && (p.port === undefined || (port >= p.port && port <= (p.endPort ?? p.port))),
  );

function ruleAllows(
  cluster: Cluster,
  policy: NetworkPolicy,
  rule: Rule,
  peerIp: string,
  protocol: Protocol,
  port: number,
): boolean {
  if (!portMatches(rule.ports, protocol, port)) return false;
  if (!rule.peers.length) return true;
  return rule.peers.some((peer) =>
    peer.ipBlock
      ? ipBlockContains(peer.ipBlock, peerIp)
      : peerPods(cluster, policy, peer).some((p) => podIPs(p).includes(peerIp)),
  );
}

/** Whether `pod` lets the connection in (Ingress: peer = source) or out (Egress: peer = destination). */
export function allowedAt(
  cluster: Cluster,
  pod: PodInfo,
  type: PolicyType,
  peerIp: string,
  protocol: Protocol,
  port: number,
): boolean {
  const policies = policiesFor(cluster, pod, type);
  if (!policies.length) return true;
  return policies.some((p) =>
    (type === 'Ingress' ? p.ingress : p.egress).some((r) => ruleAllows(cluster, p, r, peerIp, protocol, port)),
  );
}

/** A new connection from srcIp to dstIp:port is allowed when the source's egress and the destination's ingress both allow it. */
export function connectionAllowed(
  cluster: Cluster,
  srcIp: string,
  dstIp: string,
  protocol: Protocol,
  port: number,
): boolean {
  const src = cluster.pods.find((p) => podIPs(p).includes(srcIp));
  const dst = cluster.pods.find((p) => podIPs(p).includes(dstIp));
  if (src && !allowedAt(cluster, src, 'Egress', dstIp, protocol, port)) return false;
  if (dst && !allowedAt(cluster, dst, 'Ingress', srcIp, protocol, port)) return false;
  return true;
}
