/**
 * "The node is as it was": the whole state a pod can change on a node, read from the kernel and the disk —
 * every iptables and ip6tables table, the nft ruleset, links, addresses, routes (all tables), policy rules,
 * qdiscs and tc filters, and the files under the pods' state dirs (IPAM leases, libcni cache, tuning backups,
 * harness records). A suite snapshots the node once its shared infrastructure exists (after a warm-up pod:
 * a bridge and the plugins' shared chains outlive their pods by design, as in the reference) and asserts the
 * whole snapshot is unchanged after its pods are gone: a leak shows up whatever it is named.
 *
 * Normalised away, because they change without any pod: packet/byte counters, route flags (linkdown) and
 * expiry, nft set-element expiry, link operstate/MAC, IPv6 link-local addresses and their routes (the kernel
 * makes them per link, asynchronously after DAD), host-local's cursor and lock files.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { sh, type TestNode } from './test-node';

export interface NodeDirs {
  /** Directories whose files belong to pods (IPAM leases, libcni cache, tuning backups, harness state…). */
  stateDirs: string[];
}

export interface NodeSnapshot {
  links: string[];
  addrs: string[];
  routes: string[];
  rules: string[];
  qdiscs: string[];
  filters: string[];
  iptables: string[];
  ip6tables: string[];
  nft: string[];
  files: string[];
}

interface IpLink {
  ifname: string;
  mtu?: number;
  master?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string; info_slave_kind?: string };
}
interface IpAddr {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number; scope?: string }[];
}
interface Qdisc {
  kind: string;
  dev: string;
  handle?: string;
  parent?: string;
  root?: boolean;
}

const json = <T>(netns: string, cmd: string, args: string[]): T[] =>
  JSON.parse(sh(cmd, args, { netns }) || '[]') as T[];
const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() && !l.startsWith('#'));

/** The node namespace's whole network state and the files under `dirs.stateDirs`. */
export function snapshot(node: TestNode, dirs: NodeDirs): NodeSnapshot {
  const ns = node.name;
  const links = json<IpLink>(ns, 'ip', ['-j', '-d', 'link', 'show']);
  // IPv6 link-local addresses and their routes are the kernel's own per link (made asynchronously, after DAD)
  const addrs = json<IpAddr>(ns, 'ip', ['-j', 'addr', 'show']).flatMap((l) =>
    l.addr_info
      .filter((a) => !(a.family === 'inet6' && a.scope === 'link'))
      .map((a) => `${l.ifname} ${a.family} ${a.local}/${a.prefixlen}`),
  );
  const routes = ['-4', '-6']
    .flatMap((f) => json<Record<string, unknown>>(ns, 'ip', [f, '-j', 'route', 'show', 'table', 'all']))
    .filter((r) => !/^(fe80::|ff00::\/8)/.test(String(r.dst ?? '')))
    .map(routeLine);
  const rules = ['-4', '-6'].flatMap((f) =>
    json<Record<string, unknown>>(ns, 'ip', [f, '-j', 'rule', 'show']).map((r) => JSON.stringify(r)),
  );
  const qdiscList = json<Qdisc>(ns, 'tc', ['-j', 'qdisc', 'show']);
  const qdiscs = qdiscList.map(
    (q) => `${q.dev} ${q.kind} handle ${q.handle ?? '-'} parent ${q.root ? 'root' : (q.parent ?? '-')}`,
  );
  const filters = qdiscList
    .filter((q) => q.handle && !['noqueue', 'noop'].includes(q.kind))
    .flatMap((q) =>
      lines(sh('tc', ['filter', 'show', 'dev', q.dev, 'parent', q.handle!], { netns: ns })).map(
        (l) => `${q.dev} ${q.handle} ${l.trim()}`,
      ),
    );
  return {
    links: links.map(
      (l) =>
        `${l.ifname} ${l.linkinfo?.info_kind ?? '-'} mtu ${l.mtu} master ${l.master ?? '-'} ${l.flags?.includes('UP') ? 'up' : 'down'}`,
    ),
    addrs,
    routes,
    rules,
    qdiscs,
    filters,
    iptables: saved(sh('iptables-save', [], { netns: ns })),
    ip6tables: saved(sh('ip6tables-save', [], { netns: ns })),
    nft: lines(sh('nft', ['list', 'ruleset'], { netns: ns })).map(nftLine),
    files: dirs.stateDirs.flatMap((d) => listFiles(d)),
  };
}

/** iptables-save text without its comments and counters (`:CHAIN ACCEPT [12:3400]`, `-c 1 2`). */
const saved = (text: string) =>
  lines(text).map((l) =>
    l
      .replace(/ \[\d+:\d+\]$/, '')
      .replace(/^\[\d+:\d+\] /, '')
      .replace(/ -c \d+ \d+/, ''),
  );
const nftLine = (l: string) => l.replace(/counter packets \d+ bytes \d+/g, 'counter').replace(/ expires \S+/g, '');

function routeLine(r: Record<string, unknown>): string {
  const { flags: _flags, expires: _expires, ...rest } = r;
  return JSON.stringify(rest);
}

/**
 * Assert the node is exactly as it was: the whole snapshot unchanged, and none of `podNetns` still pinned.
 * `before` must be taken after the suite's shared infrastructure exists (see the top of this file).
 */
export function expectNodeUnchanged(before: NodeSnapshot, after: NodeSnapshot, podNetns: string[] = []): void {
  for (const key of Object.keys(before) as (keyof NodeSnapshot)[]) {
    const [was, now] = [[...before[key]].sort(), [...after[key]].sort()];
    const gone = was.filter((l) => !now.includes(l));
    const added = now.filter((l) => !was.includes(l));
    expect({ added, gone }, `${key}: changed since the snapshot before the pods`).toEqual({ added: [], gone: [] });
    expect(now, key).toEqual(was);
  }
  expect(
    podNetns.filter((n) => existsSync(n)),
    'pinned pod namespaces',
  ).toEqual([]);
}

/**
 * For suites whose "before" precedes the shared infrastructure (the bridge, the plugins' shared chains):
 * no link, qdisc, pinned netns or state file appeared, and no rule names a pod's container ID or address.
 * Prefer expectNodeUnchanged with a baseline taken after a warm-up pod.
 */
export function expectNodeAsItWas(
  before: NodeSnapshot,
  after: NodeSnapshot,
  pods: { ids: string[]; ips: string[]; netns: string[] },
): void {
  const podLinks = (s: NodeSnapshot) =>
    s.links
      .filter((l) => !/^\S+ bridge /.test(l))
      .map((l) => l.split(' ').slice(0, 2).join(' '))
      .sort();
  const realQdiscs = (s: NodeSnapshot) => s.qdiscs.filter((q) => !/^\S+ (noqueue|noop) /.test(q)).sort();
  expect(podLinks(after), 'links').toEqual(podLinks(before));
  expect(realQdiscs(after), 'qdiscs').toEqual(realQdiscs(before));
  expect([...after.files].sort(), 'state files').toEqual([...before.files].sort());
  expect(
    pods.netns.filter((n) => existsSync(n)),
    'pinned pod namespaces',
  ).toEqual([]);
  const rules = [...after.iptables, ...after.ip6tables, ...after.nft].join('\n');
  for (const id of pods.ids) expect(rules, `rules naming pod ${id}`).not.toContain(id);
  for (const ip of pods.ips)
    expect(rules, `rules naming ${ip}`).not.toMatch(new RegExp(`[^0-9.]${ip.replace(/\./g, '\\.')}[^0-9]`));
  expect(rules, 'per-pod chains').not.toMatch(/CNI-DN-[0-9a-f]{5,}|^:CNI-[0-9a-f]{20,}/m);
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      // The lock files and the round-robin cursor of host-local are shared state, not a pod's.
      else if (!/(^lock$|^last_reserved_ip\.\d+$|\.sock$|\.pid$)/.test(name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}
