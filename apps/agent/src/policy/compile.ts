/**
 * Compiles the policies that isolate this node's pods into one nftables table (`inet tscni-policy`):
 * a forward-hook base chain accepts established/related traffic, then dispatches through verdict
 * maps (pod address → its egress chain, pod address → its ingress chain; one map per family). A
 * per-pod chain `return`s what some rule allows (so the other side's chain is still consulted) and
 * ends in a counted drop that also bumps one named counter per isolating policy. Peers are named
 * interval sets, one per rule and family, so pods coming and going elsewhere only change set elements.
 */
import { createHash } from 'node:crypto';
import { parseIP } from '@tscni/net/host';
import {
  isNamespaceName,
  isObjectName,
  peerPods,
  podIPs,
  policiesFor,
  setElements,
  type Cluster,
  type NetworkPolicy,
  type PodInfo,
  type PolicyType,
  type Rule,
} from '@tscni/policy';

export const TABLE = 'tscni-policy';
export const FAMILY = 'inet';

export interface PodChain {
  name: string;
  pod: string;
  type: PolicyType;
  ips: string[];
  policies: string[];
  rules: string[];
}
export interface Compiled {
  chains: PodChain[];
  /** set name → elements (`s_…` IPv4, `s6_…` IPv6) */
  sets: Map<string, string[]>;
  /** named counter → `<ns>/<policy> <direction>`: the packets dropped at pods the policy isolates */
  counters: Map<string, string>;
}
export interface CounterValue {
  packets: number;
  bytes: number;
}

const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);
export const podKey = (p: Pick<PodInfo, 'namespace' | 'name'>) => `${p.namespace}/${p.name}`;
const policyKey = (p: NetworkPolicy) => `${p.namespace}/${p.name}`;
export const counterName = (policy: string, type: PolicyType) => `c_${hash(`${policy}/${type}`)}`;

function ruleLines(
  cluster: Cluster,
  policy: NetworkPolicy,
  type: PolicyType,
  index: number,
  rule: Rule,
  sets: Map<string, string[]>,
): string[] {
  const dir = type === 'Ingress' ? 'saddr' : 'daddr';
  let matches = [''];
  if (rule.peers.length) {
    const id = hash(`${policyKey(policy)}/${type}/${index}`);
    const ips = rule.peers.flatMap((peer) => peerPods(cluster, policy, peer).flatMap(podIPs));
    const blocks = rule.peers.flatMap((peer) => (peer.ipBlock ? [peer.ipBlock] : []));
    // Both families always: a peer gaining an IPv6 address elsewhere is then an element add, not a new rule.
    sets.set(`s_${id}`, setElements(ips, blocks, 4));
    sets.set(`s6_${id}`, setElements(ips, blocks, 6));
    matches = [`ip ${dir} @s_${id} `, `ip6 ${dir} @s6_${id} `];
  }
  const ports = rule.ports.length
    ? rule.ports.map((p) => {
        const proto = `meta l4proto ${p.protocol.toLowerCase()}`;
        if (p.port === undefined) return `${proto} `;
        return `${proto} th dport ${p.endPort !== undefined && p.endPort !== p.port ? `${p.port}-${p.endPort}` : p.port} `;
      })
    : [''];
  const comment = `comment "${policyKey(policy).slice(0, 120)}"`;
  return matches.flatMap((match) => ports.map((port) => `${match}${port}return ${comment}`));
}

/** What the table must hold for the pods on `node` (every pod when node is undefined). */
export function compile(cluster: Cluster, node?: string): Compiled {
  const sets = new Map<string, string[]>();
  const counters = new Map<string, string>();
  const chains: PodChain[] = [];
  // Names end up in nft comments: only valid Kubernetes names get there.
  const local = cluster.pods.filter(
    (p) =>
      (node === undefined || p.node === node) &&
      podIPs(p).every((ip) => parseIP(ip)) &&
      isNamespaceName(p.namespace) &&
      isObjectName(p.name),
  );
  for (const pod of [...local].sort((a, b) => podKey(a).localeCompare(podKey(b)))) {
    for (const type of ['Ingress', 'Egress'] as const) {
      const policies = policiesFor(cluster, pod, type).sort((a, b) => policyKey(a).localeCompare(policyKey(b)));
      if (!policies.length) continue;
      const rules = policies.flatMap((p) =>
        (type === 'Ingress' ? p.ingress : p.egress).flatMap((r, i) => ruleLines(cluster, p, type, i, r, sets)),
      );
      const named = policies.map((p) => {
        const name = counterName(policyKey(p), type);
        counters.set(name, `${policyKey(p)} ${type.toLowerCase()}`);
        return `counter name "${name}" `;
      });
      chains.push({
        name: `${type === 'Ingress' ? 'i' : 'e'}_${hash(`${podKey(pod)}/${pod.ip}`)}`,
        pod: podKey(pod),
        type,
        ips: podIPs(pod),
        policies: policies.map(policyKey),
        rules: [
          ...rules,
          `${named.join('')}counter drop comment "${`${podKey(pod)} ${type.toLowerCase()} denied`.slice(0, 120)}"`,
        ],
      });
    }
  }
  return { chains, sets, counters };
}

const elems = (e: string[]) => (e.length ? ` elements = { ${e.join(', ')} };` : '');
const family = (ip: string) => (ip.includes(':') ? 6 : 4);

/**
 * The table's definition without set elements: two compilations with the same structure differ only
 * in set contents. `values` starts the named counters where the replaced table's left off.
 */
export function structure(c: Compiled, values?: Map<string, CounterValue>): string {
  const lines: string[] = [`table ${FAMILY} ${TABLE} {`];
  for (const [name, comment] of [...c.counters].sort(([a], [b]) => a.localeCompare(b))) {
    const v = values?.get(name);
    lines.push(
      `  counter ${name} { comment "${comment.slice(0, 120)}";${v ? ` packets ${v.packets} bytes ${v.bytes};` : ''} }`,
    );
  }
  for (const name of [...c.sets.keys()].sort())
    lines.push(`  set ${name} { type ${name.startsWith('s6_') ? 'ipv6_addr' : 'ipv4_addr'}; flags interval; }`);
  for (const fam of [4, 6] as const) {
    for (const type of ['Egress', 'Ingress'] as const) {
      const entries = c.chains
        .filter((ch) => ch.type === type)
        .flatMap((ch) => ch.ips.filter((ip) => family(ip) === fam).map((ip) => `${ip} : jump ${ch.name}`));
      lines.push(
        `  map ${type.toLowerCase()}${fam === 6 ? '6' : ''} { type ipv${fam}_addr : verdict;${elems(entries)} }`,
      );
    }
  }
  for (const ch of c.chains)
    lines.push(
      `  chain ${ch.name} {`,
      `    comment "${`${ch.pod} ${ch.type.toLowerCase()}: ${ch.policies.join(' ')}`.slice(0, 120)}"`,
      ...ch.rules.map((r) => `    ${r}`),
      '  }',
    );
  lines.push(
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    '    ct state established,related accept',
    '    ip saddr vmap @egress',
    '    ip6 saddr vmap @egress6',
    '    ip daddr vmap @ingress',
    '    ip6 daddr vmap @ingress6',
    '  }',
    '}',
  );
  return lines.join('\n') + '\n';
}

/** One atomic script that replaces the table (or removes it when nothing is isolated). */
export function fullScript(c: Compiled, values?: Map<string, CounterValue>): string {
  const reset = `table ${FAMILY} ${TABLE} {}\ndelete table ${FAMILY} ${TABLE}\n`;
  if (!c.chains.length) return reset;
  const fill = [...c.sets]
    .filter(([, e]) => e.length)
    .map(([name, e]) => `add element ${FAMILY} ${TABLE} ${name} { ${e.join(', ')} }`);
  return reset + structure(c, values) + fill.join('\n') + (fill.length ? '\n' : '');
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
