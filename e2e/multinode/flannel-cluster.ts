/**
 * A node of a simulated flannel cluster (its lease, subnet.env and CRI harness whose network is
 * kube-flannel's conflist; agent-cluster.ts starts them), and operations on its CNI bin dir.
 */
import { renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { DIST_BIN, REFERENCE_BIN } from '@tscni/testing/node';
import type { PluginChoice, PodNode } from '@tscni/testing/cluster';
import type { Lease } from './flanneld';

export interface FlannelNode {
  /** The harness, its client and the node's dirs (shared lifecycle helpers). */
  pn: PodNode;
  lease: Lease;
  subnetFile: string;
  /** The flannel plugin's dataDir (saved delegate configs, one file per container). */
  flannelDir: string;
}

/**
 * kube-flannel's `10-flannel.conflist` (network `cbr0`, flannel delegating to bridge + host-local, then
 * portmap), with the node's files moved out of /run and /var/lib into the test's directories.
 */
export const kubeFlannelConflist = (subnetFile: string, flannelDir: string, ipamDir: string) => ({
  name: 'cbr0',
  cniVersion: '0.3.1',
  plugins: [
    {
      type: 'flannel',
      subnetFile,
      dataDir: flannelDir,
      ipam: { dataDir: ipamDir },
      delegate: { hairpinMode: true, isDefaultGateway: true },
    },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
});

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
