/** Human-readable NetworkPolicy pieces for `tscni policy ls` and `explain`, in kubectl's selector notation. */
import {
  peerPods,
  podIPs,
  policiesFor,
  setElements,
  type Cluster,
  type LabelSelector,
  type NetworkPolicy,
  type Peer,
  type PodInfo,
  type PolicyPort,
  type Rule,
} from '@tscni/policy';

export function selectorText(s: LabelSelector): string {
  const parts = Object.entries(s.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions) {
    if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${e.values.join(',')})`);
  }
  return parts.length ? parts.join(',') : '<all>';
}

function peerText(p: Peer, ns: string): string {
  if (p.ipBlock)
    return `ipBlock ${p.ipBlock.cidr}${p.ipBlock.except.length ? ` except ${p.ipBlock.except.join(',')}` : ''}`;
  const pods = p.podSelector ? `pods ${selectorText(p.podSelector)}` : 'all pods';
  return p.namespaceSelector
    ? `${pods} in namespaces ${selectorText(p.namespaceSelector)}`
    : `${pods} in namespace ${ns}`;
}

const portText = (p: PolicyPort) =>
  `${p.protocol}/${p.port === undefined ? 'any' : p.endPort !== undefined && p.endPort !== p.port ? `${p.port}-${p.endPort}` : p.port}`;

export function ruleText(r: Rule, ns: string, dir: 'from' | 'to'): string {
  const peers = r.peers.length ? r.peers.map((p) => peerText(p, ns)).join(' or ') : 'anywhere';
  return `${dir} ${peers} on ${r.ports.length ? r.ports.map(portText).join(',') : 'any port'}`;
}

export const policyRow = (p: NetworkPolicy): string[] => [
  p.namespace,
  p.name,
  selectorText(p.podSelector),
  p.policyTypes.join(','),
];

/** The columns padded, as kubectl prints tables. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3)))
      .join('')
      .trimEnd(),
  );
}

/** What a rule's peers resolve to right now: the selected pods with their addresses, the ipBlocks as address ranges. */
export function resolvedPeers(cluster: Cluster, policy: NetworkPolicy, rule: Rule): string {
  const pods = new Map<string, PodInfo>();
  for (const peer of rule.peers)
    for (const p of peerPods(cluster, policy, peer)) pods.set(`${p.namespace}/${p.name}`, p);
  const blocks = rule.peers.flatMap((peer) => (peer.ipBlock ? [peer.ipBlock] : []));
  const parts = [...pods].sort(([a], [b]) => a.localeCompare(b)).map(([key, p]) => `${key} ${podIPs(p).join(',')}`);
  if (blocks.length) parts.push(...setElements([], blocks, 4), ...setElements([], blocks, 6));
  return parts.length ? parts.join(', ') : 'no pod';
}

export function explainLines(cluster: Cluster, pod: PodInfo): string[] {
  const lines = [
    `pod ${pod.namespace}/${pod.name} ${podIPs(pod).join(',')}${pod.node ? ` on ${pod.node}` : ''} labels ${selectorText({ matchLabels: pod.labels, matchExpressions: [] }).replace('<all>', '<none>')}`,
  ];
  for (const type of ['Ingress', 'Egress'] as const) {
    const ps = policiesFor(cluster, pod, type);
    const what = type.toLowerCase();
    if (!ps.length) {
      lines.push(`${what}: not isolated, everything allowed`);
      continue;
    }
    lines.push(`${what}: isolated by ${ps.map((p) => `${p.namespace}/${p.name}`).join(', ')}; allowed:`);
    const rules = ps.flatMap((p) =>
      (type === 'Ingress' ? p.ingress : p.egress).flatMap((r) => [
        `  ${ruleText(r, p.namespace, type === 'Ingress' ? 'from' : 'to')}  [${p.namespace}/${p.name}]`,
        ...(r.peers.length ? [`    now: ${resolvedPeers(cluster, p, r)}`] : []),
      ]),
    );
    lines.push(...(rules.length ? rules : ['  nothing (default deny)']));
  }
  return lines;
}
