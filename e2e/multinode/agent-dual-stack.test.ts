/**
 * tscni-agent on a dual-stack network (flannel's "EnableIPv6" and "IPv6Network"): three nodes on an
 * underlay with IPv4 and IPv6 addresses, a 3-member etcd cluster. Every agent leases an IPv4 and an
 * IPv6 subnet under one flannel key (`10.244.n.0-24&fd00:10:244:m::-64`) with PublicIPv6 and the v6
 * VTEP's MAC, writes subnet.env's IPv6 lines, sets up `flannel-v6.1` beside `flannel.1` and the IPv6
 * masquerade rules; pods created through the flannel plugin (bridge + host-local) get an address of each
 * family and reach the pods of the other nodes over both, through the VXLAN devices.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingForKernelTests, missingLinkKind } from '@tscni/testing/node';
import {
  CLUSTER_NETWORK6,
  DUAL_STACK,
  ETCD_PREFIX,
  eventually,
  podRoutes,
  startAgentCluster,
  type AgentCluster,
} from './agent-cluster';
import { OURS, ServedPods } from './agent-pods';
import { FLANNEL_MTU } from './flanneld';
import { underlayIp6 } from './underlay';

const missing =
  // Only root and the kernel's VXLAN skip: a missing etcd, etcdctl or build output fails the suite.
  missingForKernelTests(['ip', 'nsenter']) ?? missingLinkKind('vxlan');

const keyOf = (subnet: string, subnet6: string) =>
  `${ETCD_PREFIX}/subnets/${subnet.replace('/', '-')}&${subnet6.replace('/', '-')}`;
const sorted = (m: Record<string, string>) => JSON.stringify(Object.entries(m).sort());

describe.skipIf(!!missing)(
  `tscni-agent: dual-stack VXLAN across three nodes with a 3-member etcd cluster${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let cluster: AgentCluster;
    const served = new ServedPods();

    beforeAll(async () => {
      cluster = await startAgentCluster('vxlan', [OURS, OURS, OURS], [], { config: DUAL_STACK, ipv6: true });
    }, 180_000);
    afterAll(async () => {
      served.close();
      await cluster?.teardown();
    }, 120_000);

    it('each agent leases an IPv4 and an IPv6 subnet under one flannel key, with PublicIPv6 and the v6 VTEP’s MAC, and writes subnet.env’s IPv6 lines', () => {
      const stored = cluster.etcd.getPrefix(`${ETCD_PREFIX}/subnets/`);
      expect(new Set(cluster.nodes.map((n) => n.lease.subnet6)).size).toBe(3);
      expect(Object.keys(stored).sort()).toEqual(
        cluster.nodes.map((n) => keyOf(n.lease.subnet, n.lease.subnet6!)).sort(),
      );
      for (const n of cluster.nodes) {
        expect(n.lease.subnet6).toMatch(/^fd00:10:244:[0-9a-f]{1,2}::\/64$/);
        const value = JSON.parse(stored[keyOf(n.lease.subnet, n.lease.subnet6!)]);
        expect(value).toEqual({
          PublicIP: n.underlayIp,
          PublicIPv6: underlayIp6(n.index),
          BackendType: 'vxlan',
          BackendData: { VNI: 1, VtepMAC: n.lease.vtepMac },
          BackendV6Data: { VNI: 1, VtepMAC: n.lease.vtepMac6 },
        });
        const gw6 = n.lease.subnet6!.replace('::/64', '::1/64');
        expect(readFileSync(n.subnetFile, 'utf8')).toBe(
          `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=${n.lease.vtepIp.replace(/\.0$/, '.1')}/24\nFLANNEL_IPV6_NETWORK=${CLUSTER_NETWORK6}\nFLANNEL_IPV6_SUBNET=${gw6}\nFLANNEL_MTU=${FLANNEL_MTU}\nFLANNEL_IPMASQ=true\n`,
        );
        const vtep6 = JSON.parse(n.pn.node.exec('ip', ['-j', '-d', 'link', 'show', 'dev', 'flannel-v6.1']))[0];
        expect(vtep6.linkinfo.info_data).toMatchObject({ id: 1, local6: underlayIp6(n.index), port: 8472 });
        const nat6 = n.pn.node.exec('ip6tables-save', ['-t', 'nat']);
        expect(nat6).toContain(
          `-A FLANNEL-POSTRTG -s ${n.lease.subnet6} -d ${CLUSTER_NETWORK6} -m comment --comment "flanneld masq" -j RETURN`,
        );
        expect(nat6).toContain(
          `-A FLANNEL-POSTRTG -s ${CLUSTER_NETWORK6} ! -d ff00::/8 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully`,
        );
      }
    });

    it('each node routes every peer’s IPv6 subnet through flannel-v6.1 (onlink via its first address), with its v6 VTEP’s MAC and PublicIPv6 in the FDB', async () => {
      for (const n of cluster.nodes) {
        const peers = cluster.nodes.filter((p) => p !== n);
        const want = Object.fromEntries(peers.map((p) => [p.lease.subnet6!, p.lease.subnet6!.replace('/64', '')]));
        await eventually(
          `${n.underlayIp}'s IPv6 routes`,
          () => sorted(podRoutes(n.pn.node, 'vxlan', 6)) === sorted(want),
        );
        const fdb = JSON.parse(n.pn.node.exec('bridge', ['-j', 'fdb', 'show', 'dev', 'flannel-v6.1'])) as {
          mac: string;
          dst?: string;
        }[];
        for (const p of peers)
          expect(fdb).toContainEqual(expect.objectContaining({ mac: p.lease.vtepMac6, dst: underlayIp6(p.index) }));
        const neigh = JSON.parse(n.pn.node.exec('ip', ['-j', '-6', 'neigh', 'show', 'dev', 'flannel-v6.1'])) as {
          dst: string;
          lladdr: string;
        }[];
        for (const p of peers)
          expect(neigh).toContainEqual(
            expect.objectContaining({ dst: p.lease.subnet6!.replace('/64', ''), lladdr: p.lease.vtepMac6 }),
          );
      }
    });

    it('pods created through flannel → bridge + host-local on every node get an IPv4 and an IPv6 address and reach each other across nodes over both', async () => {
      for (const n of cluster.nodes) {
        const p = await served.run(n, `d${n.index}`);
        expect(p.ip.startsWith(n.lease.vtepIp.replace(/\.0$/, '.'))).toBe(true);
        expect(p.ip6).toBeDefined();
        expect(p.ip6!.startsWith(n.lease.subnet6!.replace('::/64', '::'))).toBe(true);
      }
      const before = cluster.nodes.map((n) => txPackets(n.pn.node, 'flannel-v6.1'));
      served.expectFullMesh();
      // The IPv6 traffic went through the v6 VXLAN device of every node.
      cluster.nodes.forEach((n, i) => expect(txPackets(n.pn.node, 'flannel-v6.1')).toBeGreaterThan(before[i]));
    });

    it('an agent killed and restarted keeps both subnets and both VTEP MACs (found by PublicIP); pods keep reaching each other over both families', async () => {
      const n1 = cluster.nodes[0];
      const before = { ...n1.lease };
      await n1.agent.kill();
      await n1.restartAgent();
      expect(n1.lease).toEqual(before);
      expect(n1.agent.logs.find((l) => l.msg.startsWith('lease '))).toMatchObject({
        msg: 'lease kept (found by PublicIP)',
        subnet6: before.subnet6,
      });
      expect(n1.agent.logs.filter((l) => l.msg === 'route change')).toEqual([]); // the kernel was already in step
      served.expectFullMesh();
    });

    it('with -cleanup-on-exit an agent leaving removes its dual-stack key, flannel-v6.1 and its IPv6 rules; the others drop its IPv6 routes', async () => {
      const n3 = cluster.nodes[2];
      await n3.agent.kill();
      await n3.restartAgent(['-cleanup-on-exit']);
      expect(await n3.agent.stop()).toBe(0);
      expect(Object.keys(cluster.etcd.getPrefix(`${ETCD_PREFIX}/subnets/`))).not.toContain(
        keyOf(n3.lease.subnet, n3.lease.subnet6!),
      );
      expect(n3.pn.node.exec('ip', ['-j', 'link', 'show'])).not.toContain('flannel');
      expect(n3.pn.node.exec('ip6tables-save', [])).not.toMatch(/FLANNEL|flanneld/);
      for (const n of cluster.nodes.slice(0, 2))
        await eventually(
          `${n.underlayIp} drops node 3's IPv6 route`,
          () => !(n3.lease.subnet6! in podRoutes(n.pn.node, 'vxlan', 6)),
        );
    });
  },
);

function txPackets(node: AgentCluster['nodes'][number]['pn']['node'], dev: string): number {
  return JSON.parse(node.exec('ip', ['-j', '-s', 'link', 'show', 'dev', dev]))[0].stats64.tx.packets as number;
}
