/**
 * A simulated flannel cluster: nodes on one underlay, each with its flanneld lease (VTEP, peers,
 * subnet.env) and its own CRI harness whose network is kube-flannel's conflist.
 */
import { renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { DIST_BIN, REFERENCE_BIN, TestNode } from '@tscni/net/testing';
import { startPodNode, type PluginChoice, type PodNode } from '../support/cluster';
import { learnPeers, startFlanneld, type Lease } from './flanneld';
import { Underlay } from './underlay';

export interface FlannelNode {
  /** The harness, its client and the node's dirs (shared lifecycle helpers). */
  pn: PodNode;
  lease: Lease;
  subnetFile: string;
  /** The flannel plugin's dataDir (saved delegate configs, one file per container). */
  flannelDir: string;
}

export interface FlannelCluster {
  underlay: Underlay;
  nodes: FlannelNode[];
  teardown(): Promise<void>;
}

/**
 * kube-flannel's `10-flannel.conflist` (network `cbr0`, flannel delegating to bridge + host-local, then
 * portmap), with the node's files moved out of /run and /var/lib into the test's directories.
 */
export const kubeFlannelConflist = (subnetFile: string, flannelDir: string, ipamDir: string) => ({
  name: 'cbr0',
  cniVersion: '0.3.1',
  plugins: [
    { type: 'flannel', subnetFile, dataDir: flannelDir, ipam: { dataDir: ipamDir }, delegate: { hairpinMode: true, isDefaultGateway: true } },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
});

/** One node per plugin choice (node n gets 10.244.<n+1>.0/24 and underlay address 198.18.0.<11+n>). */
export async function startFlannelCluster(choices: PluginChoice[]): Promise<FlannelCluster> {
  const underlay = new Underlay();
  const nodes: TestNode[] = [];
  const started: FlannelNode[] = [];
  const teardown = async () => {
    for (const fn of started) await fn.pn.teardown().catch(() => {});
    for (const node of nodes) if (!started.some((fn) => fn.pn.node === node)) node.destroy();
    underlay.destroy();
  };
  try {
    const prepared = choices.map((_, i) => {
      const node = new TestNode(`fl${i}`);
      nodes.push(node);
      const subnetFile = join(node.tmp, 'subnet.env');
      const lease = startFlanneld(node, i + 1, underlay.attach(node, i + 1), subnetFile);
      return { node, lease, subnetFile, flannelDir: join(node.tmp, 'flannel') };
    });
    for (const p of prepared) learnPeers(p.node, prepared.filter((q) => q !== p).map((q) => q.lease));
    const ordered = await Promise.all(
      prepared.map(async (p, i) => {
        const conflist = (dirs: PodNode['dirs']) => kubeFlannelConflist(p.subnetFile, p.flannelDir, dirs.ipam);
        const pn = await startPodNode(`fl${i}`, choices[i], conflist, { node: p.node, stateDirs: [p.flannelDir] });
        const fn = { pn, lease: p.lease, subnetFile: p.subnetFile, flannelDir: p.flannelDir };
        started.push(fn);
        return fn;
      }),
    );
    return { underlay, nodes: ordered, teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

/**
 * Re-point some plugin types of a node's CNI bin dir at the other implementation while its pods run: an
 * upgrade to ours or a rollback to the reference, as an operator would do it in /opt/cni/bin (each name
 * replaced atomically by a rename).
 */
export function switchPlugins(fn: FlannelNode, choice: PluginChoice): void {
  const dir = fn.pn.opts.binDirs[0];
  for (const [type, which] of Object.entries(choice)) {
    const next = join(dir, `.${type}.next`);
    symlinkSync(join(which === 'ours' ? DIST_BIN : REFERENCE_BIN, type), next);
    renameSync(next, join(dir, type));
  }
}
