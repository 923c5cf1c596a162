/**
 * tscni-agent for real: a 3-member etcd cluster started by the test, three nodes on one underlay each
 * running the agent (flanneld's drop-in) and a CRI harness with kube-flannel's conflist. The agents
 * lease distinct /24s, write subnet.env and program the VXLAN overlay from etcd; pods reach each other
 * across nodes; nodes leaving and joining show up in every node's routes; losing an etcd member and
 * then restarting an agent loses no connectivity.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingForKernelTests, missingLinkKind, pings, tcpRequest } from '@tscni/testing/node';
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
import { FLANNEL_MTU } from './flanneld';

const missing =
  // Only root and the kernel's VXLAN skip: a missing etcd, etcdctl or build output fails the suite.
  missingForKernelTests(['ip', 'nsenter']) ?? missingLinkKind('vxlan');

const sameMap = (a: Record<string, string>, b: Record<string, string>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

describe.skipIf(!!missing)(
  `tscni-agent: VXLAN across three nodes with a 3-member etcd cluster${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let cluster: AgentCluster;
    const served = new ServedPods();
    const pods = served.pods;
    const pod = (name: string) => served.byName(name);

    beforeAll(async () => {
      cluster = await startAgentCluster('vxlan', [OURS, OURS, OURS]);
    }, 180_000);
    afterAll(async () => {
      served.close();
      await cluster?.teardown();
    }, 120_000);

    const runPod = (an: AgentNode, name: string) => served.run(an, name);
    const live = () => cluster.nodes.filter((n) => n.agent.running);
    const expectFullMesh = () => served.expectFullMesh();

    it('each agent leases a distinct /24 in etcd (flannel’s schema) and writes subnet.env for the flannel plugin', () => {
      const subnets = cluster.nodes.map((n) => n.lease.subnet);
      expect(new Set(subnets).size).toBe(3);
      const stored = cluster.etcd.getPrefix(`${ETCD_PREFIX}/subnets/`);
      expect(Object.keys(stored).sort()).toEqual(
        subnets.map((s) => `${ETCD_PREFIX}/subnets/${s.replace('/', '-')}`).sort(),
      );
      for (const n of cluster.nodes) {
        const value = JSON.parse(stored[`${ETCD_PREFIX}/subnets/${n.lease.subnet.replace('/', '-')}`]);
        expect(value).toEqual({
          PublicIP: n.underlayIp,
          BackendType: 'vxlan',
          BackendData: { VNI: 1, VtepMAC: n.lease.vtepMac },
        });
        expect(readFileSync(n.subnetFile, 'utf8')).toBe(
          `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=${n.lease.vtepIp.replace(/\.0$/, '.1')}/24\nFLANNEL_MTU=${FLANNEL_MTU}\nFLANNEL_IPMASQ=true\n`,
        );
        const vtep = JSON.parse(n.pn.node.exec('ip', ['-j', '-d', 'link', 'show', 'dev', 'flannel.1']))[0];
        expect(vtep.linkinfo.info_data).toMatchObject({ id: 1, local: n.underlayIp, port: 8472 });
        expect(vtep.mtu).toBe(FLANNEL_MTU);
        const nat = n.pn.node.exec('iptables-save', ['-t', 'nat']);
        expect(nat).toContain('-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG');
        expect(nat).toContain(
          `-A FLANNEL-POSTRTG -s ${n.lease.subnet} -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN`,
        );
        expect(nat).toMatch(
          /-A FLANNEL-POSTRTG -s 10.244.0.0\/16 ! -d 224.0.0.0\/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully/,
        );
      }
      // The lease lives as long as its etcd lease: a TTL of 24 h.
      // (etcd's lease ids are int64: read the digits, not a JS number.)
      const raw = cluster.etcd.etcdctl(['get', `${ETCD_PREFIX}/subnets/${subnets[0].replace('/', '-')}`, '-w', 'json']);
      const id = BigInt(/"lease":(\d+)/.exec(raw)![1]).toString(16);
      expect(cluster.etcd.etcdctl(['lease', 'timetolive', id])).toMatch(/granted with TTL\(86400s\)/);
    });

    it('every node routes every other node’s subnet through flannel.1, with a permanent neighbour and FDB entry', async () => {
      for (const n of cluster.nodes) {
        const peers = cluster.nodes.filter((p) => p !== n);
        const want = Object.fromEntries(peers.map((p) => [p.lease.subnet, p.lease.vtepIp]));
        await eventually(
          `${n.underlayIp}'s routes`,
          () => sameMap(podRoutes(n.pn.node, 'vxlan'), want) || JSON.stringify(podRoutes(n.pn.node, 'vxlan')),
        );
        const fdb = JSON.parse(n.pn.node.exec('bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1'])) as {
          mac: string;
          dst: string;
        }[];
        for (const p of peers)
          expect(fdb).toContainEqual(expect.objectContaining({ mac: p.lease.vtepMac, dst: p.underlayIp }));
      }
    });

    it('pods created through the harness on every node reach pods on the other nodes over VXLAN (ping, TCP with the source kept)', async () => {
      for (const n of cluster.nodes) await runPod(n, `p${n.index}`);
      for (const p of pods)
        expect(p.ip.split('.').slice(0, 3).join('.')).toBe(p.an.lease.vtepIp.split('.').slice(0, 3).join('.'));
      expectFullMesh();
    });

    it('a node that stops (agent exits with -cleanup-on-exit) disappears from every other node’s routes within seconds, and one that joins appears', async () => {
      const [n1, n2, n3] = cluster.nodes;
      const gone = n3.lease.subnet;
      // A plain stop (an upgrade, a restart) keeps everything: the lease, the device, the rules, the routes.
      expect(await n3.agent.stop()).toBe(0);
      expect(podRoutes(n1.pn.node, 'vxlan')[gone]).toBe(n3.lease.vtepIp);
      expect(n3.pn.node.exec('iptables-save', ['-t', 'nat'])).toContain('FLANNEL-POSTRTG');
      expect(Object.keys(podRoutes(n3.pn.node, 'vxlan'))).toHaveLength(2);
      await n3.restartAgent(['-cleanup-on-exit']);
      expect(n3.lease.subnet).toBe(gone);
      expect(await n3.agent.stop()).toBe(0);
      for (const n of [n1, n2])
        await eventually(`${gone} gone from ${n.underlayIp}`, () => !(gone in podRoutes(n.pn.node, 'vxlan')), 10_000);
      expect(Object.keys(cluster.etcd.getPrefix(`${ETCD_PREFIX}/subnets/`))).toHaveLength(2);
      expect(existsSync(n3.subnetFile)).toBe(false);
      expect(n3.pn.node.exec('ip', ['-j', 'link', 'show'])).not.toContain('flannel.1');
      expect(n3.pn.node.exec('iptables-save', [])).not.toMatch(/FLANNEL|flanneld/);

      const n4 = await cluster.addNode(4, OURS);
      expect([n1, n2].map((n) => n.lease.subnet)).not.toContain(n4.lease.subnet);
      for (const n of [n1, n2])
        await eventually(
          `${n4.lease.subnet} on ${n.underlayIp}`,
          () => podRoutes(n.pn.node, 'vxlan')[n4.lease.subnet] === n4.lease.vtepIp,
          10_000,
        );
      const p4 = await runPod(n4, 'p4');
      expect(pings(pod('p1').netns, p4.ip)).toBe(true);
      expect(tcpRequest(p4.netns, pod('p2').ip, 80)).toBe(`p2 ${p4.ip}`);
      // Node 3's pod is gone with its node.
      pods.splice(pods.indexOf(pod('p3')), 1);
    });

    it('a lease that expires (its etcd lease revoked) is re-acquired at once with the same subnet', async () => {
      const n2 = cluster.nodes[1];
      const key = `${ETCD_PREFIX}/subnets/${n2.lease.subnet.replace('/', '-')}`;
      const id = BigInt(/"lease":(\d+)/.exec(cluster.etcd.etcdctl(['get', key, '-w', 'json']))![1]).toString(16);
      const seen = n2.agent.logs.length;
      cluster.etcd.etcdctl(['lease', 'revoke', id]);
      await n2.agent.waitFor('lease re-acquired after it expired', 15_000, seen);
      await eventually('the lease back in etcd', () => key in cluster.etcd.getPrefix(key));
      expect(JSON.parse(cluster.etcd.getPrefix(key)[key]).PublicIP).toBe(n2.underlayIp);
      expect(metricsOf(n2.pn.node)).toMatch(/^tscni_agent_lease_acquisitions_total 2$/m);
      // The others dropped n2's routes when its lease vanished and put them back when it returned.
      for (const n of live().filter((x) => x !== n2))
        await eventually(
          `${n2.lease.subnet} back on ${n.underlayIp}`,
          () => podRoutes(n.pn.node, 'vxlan')[n2.lease.subnet] === n2.lease.vtepIp,
        );
      expectFullMesh();
    });

    it('a node whose public IP changes keeps its subnet; the others re-point their FDB entries at the new address', async () => {
      const n2 = cluster.nodes[1];
      const [n1, n4] = [cluster.nodes[0], cluster.nodes[3]];
      const subnet = n2.lease.subnet;
      await n2.agent.kill();
      const newIp = '198.18.0.42';
      n2.pn.node.exec('ip', ['-batch', '-'], {
        input: `addr del ${n2.underlayIp}/24 dev eth0\naddr add ${newIp}/24 dev eth0\n`,
      });
      n2.underlayIp = newIp;
      await n2.restartAgent();
      expect(n2.lease.subnet).toBe(subnet);
      for (const n of [n1, n4]) {
        await eventually(`${n.underlayIp}'s FDB entry for ${subnet}`, () => {
          const fdb = JSON.parse(n.pn.node.exec('bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1'])) as {
            mac: string;
            dst: string;
          }[];
          const neigh = JSON.parse(n.pn.node.exec('ip', ['-j', 'neigh', 'show', 'dev', 'flannel.1'])) as {
            dst: string;
            lladdr: string;
          }[];
          const fdbOk =
            fdb
              .filter((f) => f.mac === n2.lease.vtepMac)
              .map((f) => f.dst)
              .join() === newIp;
          return (
            (fdbOk && neigh.find((x) => x.dst === n2.lease.vtepIp)?.lladdr === n2.lease.vtepMac) ||
            JSON.stringify({ fdb, neigh })
          );
        });
      }
      expectFullMesh();
    });

    it('killing one etcd member, then the agent on a node, loses no connectivity: the agent comes back with the same subnet', async () => {
      const n1 = cluster.nodes[0];
      const before = n1.lease.subnet;
      await cluster.etcd.kill(0);
      await n1.agent.kill();
      expectFullMesh(); // the data plane needs no agent
      await n1.restartAgent();
      expect(n1.lease.subnet).toBe(before);
      expect(n1.agent.logs.find((l) => l.msg.startsWith('lease '))?.msg).toBe('lease kept (found by PublicIP)');
      expectFullMesh();
      const metrics = metricsOf(n1.pn.node);
      expect(metrics).toMatch(/^tscni_agent_leases 3$/m);
      expect(metrics).toMatch(/^tscni_agent_peers 2$/m);
      expect(metrics).toMatch(/^tscni_agent_programming_seconds_count [1-9]/m);
      expect(metrics).toMatch(/^tscni_agent_watch_reconnects_total \d+$/m);
      expect(live()).toHaveLength(3);
    });
  },
);
