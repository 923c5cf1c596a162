/**
 * Three simulated nodes on one underlay, flannel's VXLAN overlay between them set up by tscni-agent
 * (flanneld's drop-in, leasing from a 3-member etcd cluster the test starts), each node's CRI harness running kube-flannel's conflist: our flannel delegating to our bridge +
 * host-local + portmap on nodes 1 and 2, to the reference ones on node 3 (nodes do not care what the
 * others run). Pods are created and removed only through the harnesses' CRI sockets.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIST_BIN,
  REFERENCE_BIN,
  missingForKernelTests,
  missingLinkKind,
  pings,
  podLink,
  sh,
  startTcpServer,
  tcpRequest,
  type TcpServer,
} from '@tscni/testing/node';
import { podJson, type PluginChoice } from '@tscni/testing/cluster';
import { expectNodeAsItWas } from '@tscni/testing/node-state';
import { switchPlugins, type FlannelNode } from './flannel-cluster';
import { startAgentCluster, type AgentCluster } from './agent-cluster';
import { FLANNEL_MTU, VTEP_DEV } from './flanneld';

const DELEGATES = ['bridge', 'host-local', 'portmap', 'loopback'] as const;
const delegatesFrom = (which: 'ours' | 'reference'): PluginChoice => ({
  flannel: 'ours',
  ...Object.fromEntries(DELEGATES.map((p) => [p, which])),
});
const CHOICES = [delegatesFrom('ours'), delegatesFrom('ours'), delegatesFrom('reference')];

const absent = CHOICES.flatMap((c) => Object.entries(c)).filter(
  ([p, w]) => !existsSync(join(w === 'ours' ? DIST_BIN : REFERENCE_BIN, p)),
);
const missing =
  missingForKernelTests(['ip', 'bridge', 'nsenter', 'iptables-restore', 'iptables-save', 'nft', 'tc', 'ping']) ??
  (absent.length ? `needs ${[...new Set(absent.map(([p, w]) => `${w} ${p}`))].join(', ')}` : undefined) ??
  missingLinkKind('vxlan');

const HOST_PORT = 18080;

interface Pod {
  name: string;
  id: string;
  ip: string;
  netns: string;
  fn: FlannelNode;
}

describe.skipIf(!!missing)(
  `flannel VXLAN overlay across three nodes, each with its own CRI harness${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let cluster: AgentCluster;
    const pods: Pod[] = [];
    const servers: TcpServer[] = [];
    /** Pod `a` (node 1, the hostPort), `b` (node 2), `c` (node 3, reference delegates). */
    const pod = (name: string) => pods.find((p) => p.name === name)!;

    beforeAll(async () => {
      cluster = await startAgentCluster('vxlan', CHOICES);
    }, 180_000);
    afterAll(async () => {
      for (const s of servers) s.close();
      await cluster?.teardown();
    }, 120_000);

    const runPod = async (fn: FlannelNode, name: string, extra: Record<string, unknown> = {}): Promise<Pod> => {
      const id = await fn.pn.crictl.runp(podJson(name, extra));
      const { status, info } = await fn.pn.crictl.inspectp(id);
      fn.pn.podNetns.push(info.netns);
      const p = { name, id, ip: status.network.ip as string, netns: info.netns as string, fn };
      pods.push(p);
      return p;
    };
    const vtepTxPackets = (fn: FlannelNode): number =>
      (
        JSON.parse(fn.pn.node.exec('ip', ['-j', '-s', 'link', 'show', 'dev', VTEP_DEV])) as {
          stats64: { tx: { packets: number } };
        }[]
      )[0].stats64.tx.packets;

    it('each node gives its pods addresses of its own flannel subnet, with the flannel MTU, and saves the delegate it ran', async () => {
      const [n1, n2, n3] = cluster.nodes;
      await Promise.all([
        runPod(n1, 'a', { port_mappings: [{ protocol: 0, container_port: 80, host_port: HOST_PORT, host_ip: '' }] }),
        runPod(n2, 'b'),
        runPod(n3, 'c'),
      ]);
      for (const p of pods) {
        const [net, len] = p.fn.lease.subnet.split('/');
        expect(len).toBe('24');
        expect(p.ip.split('.').slice(0, 3)).toEqual(net.split('.').slice(0, 3));
        expect(podLink(p.netns)?.mtu, `${p.name}'s eth0 MTU`).toBe(FLANNEL_MTU);
        const saved = JSON.parse(readFileSync(join(p.fn.flannelDir, p.id), 'utf8'));
        expect(saved).toMatchObject({
          name: 'cbr0',
          type: 'bridge',
          ipMasq: false,
          isGateway: true,
          mtu: FLANNEL_MTU,
          ipam: { type: 'host-local', ranges: [[{ subnet: p.fn.lease.subnet }]] },
        });
        servers.push(await startTcpServer(p.netns, 80, p.name));
      }
    });

    it('pods on different nodes reach each other by pod IP through flannel.1: ping, full-MTU packets, TCP with the source address kept', () => {
      for (const from of pods) {
        for (const to of pods.filter((p) => p !== from)) {
          const tx = vtepTxPackets(from.fn);
          expect(pings(from.netns, to.ip), `${from.name} → ${to.name} ping`).toBe(true);
          expect(tcpRequest(from.netns, to.ip, 80), `${from.name} → ${to.name} TCP`).toBe(`${to.name} ${from.ip}`);
          expect(vtepTxPackets(from.fn), `${from.name}'s node sent through ${VTEP_DEV}`).toBeGreaterThan(tx);
        }
      }
      // The largest unfragmented packet the pod MTU allows (1450 − 20 IPv4 − 8 ICMP) fits the overlay.
      const big = sh(
        'nsenter',
        [
          `--net=${pod('b').netns}`,
          '--',
          'ping',
          '-4',
          '-c1',
          '-w',
          '2',
          '-M',
          'do',
          '-s',
          String(FLANNEL_MTU - 28),
          pod('a').ip,
        ],
        { allowFail: true },
      );
      expect(big).toContain('1 received');
    });

    it('a node reaches another node’s pods from its VTEP address (the route through flannel.1 picks it)', () => {
      const [n1, n2] = cluster.nodes;
      expect(tcpRequest(n2.pn.node.path, pod('a').ip, 80)).toBe(`a ${n2.lease.vtepIp}`);
      expect(tcpRequest(n1.pn.node.path, pod('c').ip, 80)).toBe(`c ${n1.lease.vtepIp}`);
    });

    it('a hostPort on node 1 answers pods of the other nodes (masqueraded by the agent’s -ip-masq) and the other nodes, through node 1’s underlay address', () => {
      const [n1, n2, n3] = cluster.nodes;
      expect(tcpRequest(pod('b').netns, n1.lease.underlayIp, HOST_PORT)).toBe(`a ${n2.lease.underlayIp}`);
      expect(tcpRequest(pod('c').netns, n1.lease.underlayIp, HOST_PORT)).toBe(`a ${n3.lease.underlayIp}`);
      expect(tcpRequest(n3.pn.node.path, n1.lease.underlayIp, HOST_PORT)).toBe(`a ${n3.lease.underlayIp}`);
      expect(tcpRequest(pod('a').netns, n1.lease.underlayIp, HOST_PORT)).toMatch(/^a /); // hairpin
    });

    it('rolled back to the reference delegates (node 1) or moved to ours (node 3) with pods running: new pods get free addresses of the shared host-local state and reach the others', async () => {
      const [n1, , n3] = cluster.nodes;
      switchPlugins(n1, delegatesFrom('reference'));
      switchPlugins(n3, delegatesFrom('ours'));
      const [a2, c2] = await Promise.all([runPod(n1, 'a2'), runPod(n3, 'c2')]);
      expect(a2.ip).not.toBe(pod('a').ip);
      expect(c2.ip).not.toBe(pod('c').ip);
      expect(pings(a2.netns, pod('b').ip)).toBe(true);
      expect(pings(c2.netns, a2.ip)).toBe(true);
    });

    it('removing every pod (a and c by the other implementation than the one that created them) leaves every node as it was, even on node 2 whose subnet.env is gone (the agent down)', async () => {
      for (const s of servers.splice(0)) s.close();
      expect(await cluster.nodes[1].agent.stop()).toBe(0);
      rmSync(cluster.nodes[1].subnetFile);
      await Promise.all(pods.map((p) => p.fn.pn.crictl.stopp(p.id)));
      await Promise.all(pods.map((p) => p.fn.pn.crictl.rmp(p.id)));
      for (const fn of cluster.nodes) {
        expect(await fn.pn.crictl.pods()).toEqual([]);
        const mine = pods.filter((p) => p.fn === fn);
        expectNodeAsItWas(fn.pn.before, fn.pn.state(), {
          ids: mine.map((p) => p.id),
          ips: mine.map((p) => p.ip),
          netns: mine.map((p) => p.netns),
        });
        expect(existsSync(fn.flannelDir) ? readdirSync(fn.flannelDir) : []).toEqual([]);
      }
    });
  },
);
