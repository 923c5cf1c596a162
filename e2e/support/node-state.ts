/**
 * "The node is as it was": everything a pod can leave on a node, read from the kernel and the disk,
 * so a suite can snapshot the node before its pods and assert nothing of theirs remains after.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { sh, type TestNode } from '@tscni/net/testing';

export interface NodeDirs {
  /** Directories whose files belong to pods (IPAM leases, libcni cache, tuning backups, harness state…). */
  stateDirs: string[];
}

export interface NodeSnapshot {
  links: string[];
  qdiscs: string[];
  iptables: string;
  nft: string;
  files: string[];
}

interface IpLink { ifname: string; linkinfo?: { info_kind?: string } }

/** Links, qdiscs, rules, files and pinned namespaces — the bridges themselves excepted: like the
 * reference, a bridge outlives its pods (it is shared and never deleted). */
export function snapshot(node: TestNode, dirs: NodeDirs): NodeSnapshot {
  const links = (JSON.parse(sh('ip', ['-j', '-d', 'link', 'show'], { netns: node.name }) || '[]') as IpLink[])
    .filter((l) => l.linkinfo?.info_kind !== 'bridge')
    .map((l) => `${l.ifname}:${l.linkinfo?.info_kind ?? ''}`)
    .sort();
  const qdiscs = (JSON.parse(sh('tc', ['-j', 'qdisc', 'show'], { netns: node.name }) || '[]') as { kind: string; dev: string }[])
    .filter((q) => !['noqueue', 'noop'].includes(q.kind))
    .map((q) => `${q.dev}:${q.kind}`)
    .sort();
  const rules = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/g, '')).join('\n');
  const iptables = rules(sh('iptables-save', [], { netns: node.name })) + rules(sh('ip6tables-save', [], { netns: node.name }));
  const nft = sh('nft', ['list', 'ruleset'], { netns: node.name });
  const files = dirs.stateDirs.flatMap((d) => listFiles(d)).sort();
  return { links, qdiscs, iptables, nft, files };
}

/**
 * Assert that nothing a pod made remains: no link, qdisc, pinned netns or state file that was not there
 * before, and no rule that names one of the pods' container IDs or addresses.
 */
export function expectNodeAsItWas(before: NodeSnapshot, after: NodeSnapshot, pods: { ids: string[]; ips: string[]; netns: string[] }): void {
  expect(after.links, 'links').toEqual(before.links);
  expect(after.qdiscs, 'qdiscs').toEqual(before.qdiscs);
  expect(after.files, 'state files').toEqual(before.files);
  expect(pods.netns.filter((n) => existsSync(n)), 'pinned pod namespaces').toEqual([]);
  const rules = after.iptables + '\n' + after.nft;
  for (const id of pods.ids) expect(rules, `rules naming pod ${id}`).not.toContain(id);
  for (const ip of pods.ips) expect(rules, `rules naming ${ip}`).not.toMatch(new RegExp(`[^0-9.]${ip.replace(/\./g, '\\.')}[^0-9]`));
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
