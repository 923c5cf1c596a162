/**
 * What a plugin did, normalised so that the reference and ours can be compared: links, addresses,
 * routes and rules of a namespace (one `ip -batch` each), the node's iptables and qdiscs, sysctls.
 * Random parts (veth names, MACs, ifindexes) are erased; everything else must match.
 */
import { spawnSync } from 'node:child_process';

export type Aspect = 'links' | 'iptables' | 'qdiscs' | 'forwarding' | 'podSysctls';

function run(netns: string, argv: string[], input?: string): string {
  const r = spawnSync('nsenter', [`--net=${netns}`, '--', ...argv], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} in ${netns}: ${r.stderr}`);
  return r.stdout;
}

const VETH = /\bveth[0-9a-f]{8}\b/g;
const IFB = /\bbwp[0-9a-f]{12}\b/g;
// Our firewall tags its per-attachment rules so DEL without prevResult and GC find them (the reference's rules are
// untagged; docs: packages/plugins/meta/firewall/README.md): the tag is the one intended difference.
const FIREWALL_TAG = / -m comment --comment "tscni-fw [^"]*"/g;
const anon = (s: string): string => s.replace(VETH, 'vethX').replace(IFB, 'bwpX').replace(FIREWALL_TAG, '');

interface LinkShown {
  ifname: string;
  flags: string[];
  mtu: number;
  master?: string;
  link_type?: string;
  txqlen?: number;
}
interface AddrShown {
  ifname: string;
  addr_info: { local: string; prefixlen: number; family: string; scope?: string }[];
}
interface RouteShown {
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  scope?: string;
  metric?: number;
  type?: string;
  prefsrc?: string;
}

/** Links, addresses (no link-local v6), IPv4 routes of every table, and rules of one namespace. */
export function ipState(netns: string): string {
  const out = run(netns, ['ip', '-j', '-batch', '-'], 'link show\naddr show\nroute show table all\nrule show\n')
    .trim()
    .split('\n');
  const [links, addrs, routes, rules] = out.map((l) => JSON.parse(l) as unknown[]);
  const flag = (f: string[]) =>
    f
      .filter((x) => ['UP', 'PROMISC', 'ALLMULTI', 'NOARP'].includes(x))
      .sort()
      .join(',');
  return anon(
    JSON.stringify({
      links: (links as LinkShown[])
        .map((l) => `${l.ifname} ${flag(l.flags)} mtu=${l.mtu} master=${l.master ?? ''}`)
        .sort(),
      addrs: (addrs as AddrShown[])
        .flatMap((a) =>
          a.addr_info.filter((i) => !i.local.startsWith('fe80:')).map((i) => `${a.ifname} ${i.local}/${i.prefixlen}`),
        )
        .sort(),
      routes: (routes as RouteShown[])
        // (local routes are the kernel's; fe80::/64 appears whenever the kernel gets to the link-local address)
        .filter((r) => r.table !== 'local' && r.dst !== 'fe80::/64')
        .map(
          (r) =>
            `${r.type ?? ''} ${r.dst} via=${r.gateway ?? ''} dev=${r.dev ?? ''} table=${r.table ?? 'main'} scope=${r.scope ?? ''} metric=${r.metric ?? ''} src=${r.prefsrc ?? ''}`,
        )
        .sort(),
      rules,
    }),
  );
}

/** iptables and ip6tables rules (tables nat and filter), counters and comments lines dropped. */
export function iptablesState(netns: string): string {
  const lines: string[] = [];
  for (const cmd of ['iptables-save', 'ip6tables-save']) {
    const text = run(netns, [cmd]);
    lines.push(
      ...text
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map(
          (l) => `${cmd[0] === 'i' && cmd[1] === 'p' && cmd[2] === '6' ? '6' : '4'} ${l.replace(/\[\d+:\d+\]/, '')}`,
        ),
    );
  }
  return anon(lines.join('\n'));
}

interface QdiscShown {
  kind: string;
  handle: string;
  dev: string;
  parent?: string;
  root?: boolean;
  options?: Record<string, unknown>;
}

/** Qdiscs other than the defaults, with their rates. */
export function qdiscState(netns: string): string {
  const qs = JSON.parse(run(netns, ['tc', '-j', 'qdisc', 'show']) || '[]') as QdiscShown[];
  return anon(
    qs
      .filter((q) => !['noqueue', 'pfifo_fast', 'mq', 'fq_codel', 'noop'].includes(q.kind))
      .map(
        (q) =>
          `${q.kind} ${q.dev} ${q.handle} ${q.root ? 'root' : (q.parent ?? '')} ${JSON.stringify(q.options ?? {})}`,
      )
      .sort()
      .join('\n'),
  );
}

/** Values of the given /proc/sys files as seen from inside `netns`. */
export function sysctlState(netns: string, files: string[]): string {
  return files.map((f) => `${f}=${run(netns, ['cat', f]).trim()}`).join('\n');
}
