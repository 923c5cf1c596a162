/** What both runtime suites share: the plugin dirs under test, prerequisites, qdisc reading. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DIST_BIN, REFERENCE_BIN, missingForKernelTests, sh, type TestNode } from '../test-node';
import { snapshot, type NodeSnapshot } from '../node-state';
import { RESIDENT_BIN } from '../plugind';

/** A plugin dir under test as the runtime's; `resident`: resident mode's shims, with tscni-plugind in the node. */
export interface PluginSet {
  name: string;
  bin: string;
  resident?: boolean;
}

/** Each suite runs with our build and with Debian's reference plugins as the runtime's plugin dir. */
export const PLUGIN_SETS: PluginSet[] = [
  { name: 'tscni (dist/cni-bin)', bin: DIST_BIN },
  { name: `reference (${REFERENCE_BIN})`, bin: REFERENCE_BIN },
];

/**
 * And in resident mode (docs/resident.md): the shims as the plugin dir, relaying to tscni-plugind, which the suite
 * starts in the node (interop/resident.ts).
 */
export const RESIDENT_SET: PluginSet = {
  name: 'tscni resident (dist/bun/cni-resident + tscni-plugind)',
  bin: RESIDENT_BIN,
  resident: true,
};

/**
 * Only a non-root run skips: CI installs the runtimes, so a missing one FAILS the suite (its beforeAll
 * throws naming it) rather than skipping.
 */
export function missingForInterop(tools: string[]): string | undefined {
  const kernel = missingForKernelTests(['ip', 'nsenter', 'unshare', 'iptables-save', 'nft', 'tc']);
  if (kernel === 'needs root') return kernel;
  const absent = tools.filter((t) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', t]).status !== 0);
  if (absent.length)
    throw new Error(`interop suite needs ${absent.join(', ')} (apt-get install the Debian packages .ci/run lists)`);
  for (const p of ['bridge', 'host-local', 'portmap', 'bandwidth', 'firewall', 'tuning', 'loopback']) {
    for (const dir of [DIST_BIN, REFERENCE_BIN, RESIDENT_BIN])
      if (!existsSync(join(dir, p))) throw new Error(`interop suite needs ${join(dir, p)}`);
  }
  return kernel;
}

export interface Qdisc {
  kind: string;
  dev: string;
  devKind: string;
  /** tbf rate in bytes/s, 0 for others. */
  rate: number;
}

export function qdiscsOf(node: TestNode): Qdisc[] {
  const kinds = new Map<string, string>(
    (
      JSON.parse(sh('ip', ['-j', '-d', 'link', 'show'], { netns: node.name }) || '[]') as {
        ifname: string;
        linkinfo?: { info_kind?: string };
      }[]
    ).map((l) => [l.ifname, l.linkinfo?.info_kind ?? '']),
  );
  return (
    JSON.parse(sh('tc', ['-j', 'qdisc', 'show'], { netns: node.name }) || '[]') as {
      kind: string;
      dev: string;
      options?: { rate?: number };
    }[]
  ).map((q) => ({
    kind: q.kind,
    dev: q.dev,
    devKind: kinds.get(q.dev) ?? '',
    rate: q.options?.rate ?? 0,
  }));
}

/**
 * The node-state snapshot of a runtime node. Lock files (`*.lock`, `*.lck`: our rules lock in /run/lock,
 * podman's, containers/storage's) are shared state created on first use, not something a pod leaves.
 */
export function runtimeNodeSnapshot(node: TestNode, stateDirs: string[]): NodeSnapshot {
  const s = snapshot(node, { stateDirs });
  return { ...s, files: s.files.filter((f) => !/\.(lock|lck)$/.test(f)) };
}
