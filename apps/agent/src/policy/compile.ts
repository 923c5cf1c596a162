/**
 * Compiles the policies that isolate this node's pods into one nftables table (`inet tscni-policy`):
 * a forward-hook base chain accepts established/related traffic, then dispatches through two verdict
 * maps (pod IP → its egress chain, pod IP → its ingress chain). A per-pod chain `return`s what some
 * rule allows (so the other side's chain is still consulted) and ends in a counted drop. Peers are
 * named interval sets, one per rule, so pods coming and going elsewhere only change set elements.
 */
import { createHash } from 'node:crypto';
import { isNamespaceName, isObjectName, peerPods, policiesFor, type Cluster, type NetworkPolicy, type PodInfo, type PolicyType, type Rule } from '@tscni/policy';
import { setElements } from './ranges';

export const TABLE = 'tscni-policy';
export const FAMILY = 'inet';

export interface PodChain {
  name: string;
  pod: string;
  type: PolicyType;
  ip: string;
  policies: string[];
  rules: string[];
}
export interface Compiled {
  chains: PodChain[];
  /** set name → elements */
  sets: Map<string, string[]>;
}

const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);
export const podKey = (p: Pick<PodInfo, 'namespace' | 'name'>) => `${p.namespace}/${p.name}`;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function ruleLines(cluster: Cluster, policy: NetworkPolicy, type: PolicyType, index: number, rule: Rule, sets: Map<string, string[]>): string[] {
  const addr = type === 'Ingress' ? 'ip saddr' : 'ip daddr';
  let match = '';
  if (rule.peers.length) {
    const set = `s_${hash(`${policy.namespace}/${policy.name}/${type}/${index}`)}`;
    const ips = rule.peers.flatMap((peer) => peerPods(cluster, policy, peer).map((p) => p.ip));
    const blocks = rule.peers.flatMap((peer) => (peer.ipBlock ? [peer.ipBlock] : []));
    sets.set(set, setElements(ips, blocks));
    match = `${addr} @${set} `;
  }
  const ports = rule.ports.length
    ? rule.ports.map((p) => {
        const proto = `meta l4proto ${p.protocol.toLowerCase()}`;
        if (p.port === undefined) return `${proto} `;
        return `${proto} th dport ${p.endPort !== undefined && p.endPort !== p.port ? `${p.port}-${p.endPort}` : p.port} `;
      })
    : [''];
  const comment = `comment "${`${policy.namespace}/${policy.name}`.slice(0, 120)}"`;
  return ports.map((port) => `${match}${port}return ${comment}`);
}

/** What the table must hold for the pods on `node` (every pod when node is undefined). */
export function compile(cluster: Cluster, node?: string): Compiled {
  const sets = new Map<string, string[]>();
  const chains: PodChain[] = [];
  // Names end up in nft comments: only valid Kubernetes names get there.
  const local = cluster.pods.filter((p) => (node === undefined || p.node === node) && IPV4.test(p.ip) && isNamespaceName(p.namespace) && isObjectName(p.name));
  for (const pod of [...local].sort((a, b) => podKey(a).localeCompare(podKey(b)))) {
    for (const type of ['Ingress', 'Egress'] as const) {
      const policies = policiesFor(cluster, pod, type).sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
      if (!policies.length) continue;
      const rules = policies.flatMap((p) => (type === 'Ingress' ? p.ingress : p.egress).flatMap((r, i) => ruleLines(cluster, p, type, i, r, sets)));
      chains.push({
        name: `${type === 'Ingress' ? 'i' : 'e'}_${hash(`${podKey(pod)}/${pod.ip}`)}`,
        pod: podKey(pod),
        type,
        ip: pod.ip,
        policies: policies.map((p) => `${p.namespace}/${p.name}`),
        rules: [...rules, `counter drop comment "${`${podKey(pod)} ${type.toLowerCase()} denied`.slice(0, 120)}"`],
      });
    }
  }
  return { chains, sets };
}

const elems = (e: string[]) => (e.length ? ` elements = { ${e.join(', ')} };` : '');

/** The table's definition without set elements: two compilations with the same structure differ only in set contents. */
export function structure(c: Compiled): string {
  const lines: string[] = [`table ${FAMILY} ${TABLE} {`];
  for (const name of [...c.sets.keys()].sort()) lines.push(`  set ${name} { type ipv4_addr; flags interval; }`);
  for (const type of ['Egress', 'Ingress'] as const) {
    const entries = c.chains.filter((ch) => ch.type === type).map((ch) => `${ch.ip} : jump ${ch.name}`);
    lines.push(`  map ${type.toLowerCase()} { type ipv4_addr : verdict;${elems(entries)} }`);
  }
  for (const ch of c.chains) lines.push(`  chain ${ch.name} {`, `    comment "${`${ch.pod} ${ch.type.toLowerCase()}: ${ch.policies.join(' ')}`.slice(0, 120)}"`, ...ch.rules.map((r) => `    ${r}`), '  }');
  lines.push(
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    '    ct state established,related accept',
    '    ip saddr vmap @egress',
    '    ip daddr vmap @ingress',
    '  }',
    '}',
  );
  return lines.join('\n') + '\n';
}

/** One atomic script that replaces the table (or removes it when nothing is isolated). */
export function fullScript(c: Compiled): string {
  const reset = `table ${FAMILY} ${TABLE} {}\ndelete table ${FAMILY} ${TABLE}\n`;
  if (!c.chains.length) return reset;
  const fill = [...c.sets].filter(([, e]) => e.length).map(([name, e]) => `add element ${FAMILY} ${TABLE} ${name} { ${e.join(', ')} }`);
  return reset + structure(c) + fill.join('\n') + (fill.length ? '\n' : '');
}

/** The element changes that take the sets from `prev` to `next` (same structure), or '' when none. */
export function elementScript(prev: Compiled, next: Compiled): string {
  const lines: string[] = [];
  for (const [name, want] of next.sets) {
    const have = new Set(prev.sets.get(name) ?? []);
    const wantSet = new Set(want);
    const del = [...have].filter((e) => !wantSet.has(e));
    const add = want.filter((e) => !have.has(e));
    if (del.length) lines.push(`delete element ${FAMILY} ${TABLE} ${name} { ${del.join(', ')} }`);
    if (add.length) lines.push(`add element ${FAMILY} ${TABLE} ${name} { ${add.join(', ')} }`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}
