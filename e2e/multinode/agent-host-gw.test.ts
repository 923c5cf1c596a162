/**
 * tscni-agent with flannel's host-gw backend: three nodes on one underlay, a 3-member etcd cluster. Pod
 * subnets are routed via the peers' public IPs (no encapsulation, the pod MTU is the underlay's); a peer
 * that is not on the node's L2 segment is refused with a clear message; with the whole etcd cluster down
 * the data plane keeps working and the agents catch up once it is back.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingForKernelTests } from '@tscni/testing/node';
import {
  ETCD_PREFIX,
  eventually,
  metricsOf,
  podRoutes,
  startAgentCluster,
  type AgentCluster,
  type AgentNode,
} from './agent-cluster';
import { OURS, ServedPods } from './agent-pods';

const missing =
  // Only root skips: a missing etcd, etcdctl or build output fails the suite.
  missingForKernelTests(['ip', 'nsenter']);

describe.skipIf(!!missing)(
  `tscni-agent: host-gw across three nodes with a 3-member etcd cluster${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let cluster: AgentCluster;
    const served = new ServedPods();
    const pods = served.pods;

    beforeAll(async () => {
      // A short TTL (tscni's -subnet-lease-ttl) so renewal happens within the suite.
      cluster = await startAgentCluster('host-gw', [OURS, OURS, OURS], ['-subnet-lease-ttl', '6']);
    }, 180_000);
    afterAll(async () => {
      served.close();
      await cluster?.teardown();
    }, 120_000);

    const runPod = (an: AgentNode, name: string) => served.run(an, name);
    const expectFullMesh = () => served.expectFullMesh();

    it('each node routes the others’ subnets via their public IPs on eth0; no VXLAN device; the pod MTU is the underlay’s', async () => {
      for (const n of cluster.nodes) {
        const want = Object.fromEntries(
          cluster.nodes.filter((p) => p !== n).map((p) => [p.lease.subnet, p.underlayIp]),
        );
        await eventually(
          `${n.underlayIp}'s routes`,
          () =>
            JSON.stringify(Object.entries(podRoutes(n.pn.node, 'host-gw')).sort()) ===
            JSON.stringify(Object.entries(want).sort()),
        );
        expect(n.pn.node.exec('ip', ['-j', 'link', 'show'])).not.toContain('flannel.');
        expect(readFileSync(n.subnetFile, 'utf8')).toContain('FLANNEL_MTU=1500\n');
        expect(
          JSON.parse(
            cluster.etcd.getPrefix(`${ETCD_PREFIX}/subnets/`)[
              `${ETCD_PREFIX}/subnets/${n.lease.subnet.replace('/', '-')}`
            ],
          ),
        ).toEqual({ PublicIP: n.underlayIp, BackendType: 'host-gw', BackendData: null });
      }
    });

    it('pods created through the harness on every node reach pods on the other nodes, routed by the underlay', async () => {
      for (const n of cluster.nodes) await runPod(n, `h${n.index}`);
      expectFullMesh();
    });

    it('leases outlive their TTL by renewal onto fresh etcd leases, without a route changing', async () => {
      const routesBefore = cluster.nodes.map((n) => podRoutes(n.pn.node, 'host-gw'));
      for (const n of cluster.nodes) await n.agent.waitFor('lease renewed', 15_000);
      await new Promise((r) => setTimeout(r, 7_000)); // longer than the TTL
      expect(Object.keys(cluster.etcd.getPrefix(`${ETCD_PREFIX}/subnets/`))).toHaveLength(3);
      expect(cluster.nodes.map((n) => podRoutes(n.pn.node, 'host-gw'))).toEqual(routesBefore);
      expect(metricsOf(cluster.nodes[0].pn.node)).toMatch(/^tscni_agent_lease_renewals_total [1-9]/m);
      expect(cluster.nodes.flatMap((n) => n.agent.logs.filter((l) => l.msg === 'route change'))).toHaveLength(6); // the first 2 per node only
    });

    it('a peer that is not on this L2 segment is refused with a clear message and gets no route', async () => {
      const key = `${ETCD_PREFIX}/subnets/10.244.200.0-24`;
      cluster.etcd.put(key, JSON.stringify({ PublicIP: '203.0.113.7', BackendType: 'host-gw', BackendData: null }));
      for (const n of cluster.nodes) {
        const refusal = await n.agent.waitFor('peer refused', 15_000);
        expect(refusal).toMatchObject({ level: 'error', subnet: '10.244.200.0/24', publicIP: '203.0.113.7' });
        expect(refusal.reason).toMatch(/host-gw needs every node on one L2 segment/);
        expect(podRoutes(n.pn.node, 'host-gw')).not.toHaveProperty('10.244.200.0/24');
        await eventually('the refused-peers metric', () => /^tscni_agent_refused_peers 1$/m.test(metricsOf(n.pn.node)));
      }
      cluster.etcd.etcdctl(['del', key]);
      for (const n of cluster.nodes)
        await eventually('the refused-peers metric back at 0', () =>
          /^tscni_agent_refused_peers 0$/m.test(metricsOf(n.pn.node)),
        );
    });

    it('with the whole etcd cluster down the data plane keeps working; the agents retry, then catch up with changes made meanwhile', async () => {
      const n1 = cluster.nodes[0];
      const seen = n1.agent.logs.length;
      for (let i = 0; i < 3; i++) await cluster.etcd.kill(i);
      await n1.agent.waitFor('etcd unavailable, data plane left as is', 30_000, seen);
      expectFullMesh();
      for (let i = 0; i < 3; i++) cluster.etcd.restart(i);
      await cluster.etcd.waitHealthy();
      // A change made while the agents were cut off reaches them.
      const key = `${ETCD_PREFIX}/subnets/10.244.201.0-24`;
      cluster.etcd.put(
        key,
        JSON.stringify({ PublicIP: cluster.nodes[2].underlayIp, BackendType: 'host-gw', BackendData: null }),
      );
      for (const n of cluster.nodes.slice(0, 2))
        await eventually(
          `${n.underlayIp} caught up`,
          () => podRoutes(n.pn.node, 'host-gw')['10.244.201.0/24'] === cluster.nodes[2].underlayIp,
          30_000,
        );
      cluster.etcd.etcdctl(['del', key]);
      for (const n of cluster.nodes)
        await eventually(
          `${n.underlayIp} dropped the extra route`,
          () => !('10.244.201.0/24' in podRoutes(n.pn.node, 'host-gw')),
          30_000,
        );
      expect(metricsOf(n1.pn.node)).toMatch(/^tscni_agent_etcd_errors_total\{op="list"\} [1-9]/m);
      await eventually(
        'the watch re-established',
        () => /^tscni_agent_watch_reconnects_total [1-9]/m.test(metricsOf(n1.pn.node)) || metricsOf(n1.pn.node),
        30_000,
      );
      expectFullMesh();
    });
  },
);
