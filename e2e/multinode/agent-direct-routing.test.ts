/**
 * tscni-agent with vxlan's DirectRouting, as flanneld does it: a peer whose public IP is on this node's
 * L2 segment is routed via that IP on eth0 (no encapsulation), the others through `flannel.1`. Nodes 1
 * and 2 share the underlay's 198.18.0.0/24; node 3 announces the public IP 198.18.1.13, which nodes 1 and
 * 2 reach through a gateway (node 3's own address on the segment): they route node 3's subnet through
 * VXLAN, while node 3, which has nodes 1 and 2 on its segment, routes theirs directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingForKernelTests, missingLinkKind, pings } from '@tscni/testing/node';
import type { TestNode } from '@tscni/testing/node';
import {
  ETCD_PREFIX,
  eventually,
  podRoutes,
  startAgentCluster,
  type AgentCluster,
  type AgentNode,
} from './agent-cluster';
import { OURS, ServedPods } from './agent-pods';

const missing =
  // Only root and the kernel's VXLAN skip: a missing etcd, etcdctl or build output fails the suite.
  missingForKernelTests(['ip', 'nsenter']) ?? missingLinkKind('vxlan');

/** Node 3's public IP: on a subnet nodes 1 and 2 reach only through a gateway. */
const FAR_IP = '198.18.1.13';
const sorted = (m: Record<string, string>) => JSON.stringify(Object.entries(m).sort());
const txPackets = (node: TestNode, dev: string): number =>
  JSON.parse(node.exec('ip', ['-j', '-s', 'link', 'show', 'dev', dev]))[0].stats64.tx.packets;

describe.skipIf(!!missing)(
  `tscni-agent: vxlan DirectRouting across three nodes with a 3-member etcd cluster${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let cluster: AgentCluster;
    const served = new ServedPods();
    const node = (i: number): AgentNode => cluster.nodes.find((n) => n.index === i)!;

    beforeAll(async () => {
      cluster = await startAgentCluster('vxlan', [OURS, OURS, OURS], [], {
        backendConfig: { DirectRouting: true },
        prepare: (n, i) => {
          if (i === 3) n.exec('ip', ['addr', 'add', `${FAR_IP}/24`, 'dev', 'eth0']);
          else n.exec('ip', ['route', 'add', '198.18.1.0/24', 'via', '198.18.0.13']);
        },
        nodeFlags: (i) => (i === 3 ? ['-public-ip', FAR_IP] : []),
      });
    }, 180_000);
    afterAll(async () => {
      served.close();
      await cluster?.teardown();
    }, 120_000);

    it('routes a peer on the segment via its public IP on eth0, and one behind a gateway through flannel.1 (FDB to its public IP)', async () => {
      const [n1, n2, n3] = [1, 2, 3].map(node);
      expect(
        JSON.parse(
          cluster.etcd.getPrefix(`${ETCD_PREFIX}/subnets/`)[
            `${ETCD_PREFIX}/subnets/${n3.lease.subnet.replace('/', '-')}`
          ],
        ).PublicIP,
      ).toBe(FAR_IP);
      for (const [self, near] of [
        [n1, n2],
        [n2, n1],
      ]) {
        await eventually(
          `${self.underlayIp}'s routes`,
          () =>
            sorted(podRoutes(self.pn.node, 'vxlan')) ===
            sorted({ [near.lease.subnet]: near.underlayIp, [n3.lease.subnet]: n3.lease.vtepIp }),
        );
        const viaEth0 = JSON.parse(self.pn.node.exec('ip', ['-j', '-4', 'route', 'show', 'dev', 'eth0'])) as {
          dst: string;
          gateway?: string;
        }[];
        expect(viaEth0).toContainEqual(expect.objectContaining({ dst: near.lease.subnet, gateway: near.underlayIp }));
        const viaVxlan = JSON.parse(self.pn.node.exec('ip', ['-j', '-4', 'route', 'show', 'dev', 'flannel.1'])) as {
          dst: string;
        }[];
        expect(viaVxlan.map((r) => r.dst)).toEqual([n3.lease.subnet]);
        const fdb = JSON.parse(self.pn.node.exec('bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1'])) as {
          mac: string;
          dst?: string;
        }[];
        expect(fdb.filter((f) => f.dst)).toEqual([expect.objectContaining({ mac: n3.lease.vtepMac, dst: FAR_IP })]);
      }
      // Node 3 has both others on its segment: no route through flannel.1 at all.
      await eventually(
        'node 3 routes both peers directly',
        () =>
          sorted(podRoutes(n3.pn.node, 'vxlan')) ===
          sorted({ [n1.lease.subnet]: n1.underlayIp, [n2.lease.subnet]: n2.underlayIp }),
      );
      expect(JSON.parse(n3.pn.node.exec('ip', ['-j', '-4', 'route', 'show', 'dev', 'flannel.1']))).toEqual([]);
    });

    it('pods reach each other: between nodes 1 and 2 without encapsulation, to node 3 through VXLAN', async () => {
      for (const n of cluster.nodes) await served.run(n, `r${n.index}`);
      served.expectFullMesh();
      const [n1, n2, n3] = [1, 2, 3].map(node);
      const [p1, p2, p3] = ['r1', 'r2', 'r3'].map((p) => served.byName(p));
      const tx1 = txPackets(n1.pn.node, 'flannel.1');
      const tx2 = txPackets(n2.pn.node, 'flannel.1');
      expect(pings(p1.netns, p2.ip)).toBe(true);
      expect(txPackets(n1.pn.node, 'flannel.1')).toBe(tx1);
      expect(txPackets(n2.pn.node, 'flannel.1')).toBe(tx2);
      expect(pings(p1.netns, p3.ip)).toBe(true);
      expect(txPackets(n1.pn.node, 'flannel.1')).toBeGreaterThan(tx1);
      const tx3 = txPackets(n3.pn.node, 'flannel.1');
      expect(pings(p3.netns, p1.ip)).toBe(true); // node 3 sends directly
      expect(txPackets(n3.pn.node, 'flannel.1')).toBe(tx3);
    });
  },
);
