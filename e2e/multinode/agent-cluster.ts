/**
 * A flannel cluster run the real way: a 3-member etcd cluster on the underlay, and on every node
 * tscni-agent (flanneld's drop-in) leasing its subnet from etcd, programming the overlay and writing
 * subnet.env, and the node's CRI harness running kube-flannel's conflist. Nodes can be added, stopped
 * and restarted while the cluster runs. Teardown kills every process and removes every namespace, even
 * after a failure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestNode } from '@tscni/testing/node';
import { startPodNode, type PluginChoice, type PodNode } from '@tscni/testing/cluster';
import { AgentProcess } from './agent-process';
import { EtcdCluster } from './etcd-cluster';
import { kubeFlannelConflist, type FlannelNode } from './flannel-cluster';
import { CLUSTER_NETWORK, type Lease } from './flanneld';
import { Underlay } from './underlay';

export const ETCD_PREFIX = '/coreos.com/network';
export const METRICS_ADDR = '127.0.0.1:9102';
export type BackendType = 'vxlan' | 'host-gw';

export interface AgentNode extends FlannelNode {
  index: number;
  underlayIp: string;
  stateFile: string;
  agent: AgentProcess;
  /** Start the agent again (after stop() or kill()) with the same flags. */
  restartAgent(extra?: string[]): Promise<void>;
}

export interface AgentCluster {
  underlay: Underlay;
  etcd: EtcdCluster;
  backend: BackendType;
  nodes: AgentNode[];
  /** Start one more node (underlay index `index`) with its agent and harness. */
  addNode(index: number, choice: PluginChoice): Promise<AgentNode>;
  teardown(): Promise<void>;
}

export const networkConfig = (
  backend: BackendType,
  extra: Record<string, unknown> = {},
  backendExtra: Record<string, unknown> = {},
) => JSON.stringify({ Network: CLUSTER_NETWORK, SubnetLen: 24, ...extra, Backend: { Type: backend, ...backendExtra } });

/** The dual-stack suites' IPv6 cluster network (flannel's "EnableIPv6" and "IPv6Network"). */
export const CLUSTER_NETWORK6 = 'fd00:10:244::/56';
export const DUAL_STACK = { EnableIPv6: true, IPv6Network: CLUSTER_NETWORK6 };

export interface ClusterOptions {
  /** Added to the network config (e.g. DUAL_STACK), and to its Backend (e.g. DirectRouting). */
  config?: Record<string, unknown>;
  backendConfig?: Record<string, unknown>;
  /** Give every node an IPv6 underlay address too (and IPv6 forwarding). */
  ipv6?: boolean;
  /** Set a node up further before its agent starts (extra addresses, routes). */
  prepare?: (node: TestNode, index: number) => void;
  /** Flags for one node's agent only. */
  nodeFlags?: (index: number) => string[];
}

/** The node's lease as the fixture describes one: read back from what the agent wrote and made. */
export function leaseOf(node: TestNode, subnetFile: string, underlayIp: string): Lease {
  const env = readFileSync(subnetFile, 'utf8');
  const m = /^FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\/24$/m.exec(env);
  if (!m) throw new Error(`unexpected subnet file ${subnetFile}`);
  const vtep = JSON.parse(node.exec('ip', ['-j', 'link', 'show'])) as { ifname: string; address: string }[];
  const lease: Lease = {
    subnet: `${m[1]}.0/24`,
    vtepIp: `${m[1]}.0`,
    vtepMac: vtep.find((l) => l.ifname === 'flannel.1')?.address ?? '',
    underlayIp,
  };
  const m6 = /^FLANNEL_IPV6_SUBNET=([0-9a-f:]+)::1\/64$/m.exec(env);
  if (m6)
    Object.assign(lease, {
      subnet6: `${m6[1]}::/64`,
      vtepMac6: vtep.find((l) => l.ifname === 'flannel-v6.1')?.address ?? '',
    });
  return lease;
}

export async function startAgentCluster(
  backend: BackendType,
  choices: PluginChoice[],
  agentFlags: string[] = [],
  opts: ClusterOptions = {},
): Promise<AgentCluster> {
  const underlay = new Underlay();
  const nodes: AgentNode[] = [];
  const loose: TestNode[] = [];
  const agents: AgentProcess[] = [];
  let etcd: EtcdCluster | undefined;
  const teardown = async () => {
    for (const n of nodes) await n.agent.kill().catch(() => {});
    for (const a of agents) await a.kill().catch(() => {});
    for (const n of nodes) await n.pn.teardown().catch(() => {});
    for (const n of loose) if (!nodes.some((x) => x.pn.node === n)) n.destroy();
    await etcd?.stop().catch(() => {});
    underlay.destroy();
  };

  /** Phase 1: the node on the underlay, its agent running (lease taken, subnet.env written). */
  const startAgent = async (index: number) => {
    const node = new TestNode(`ag${index}`);
    loose.push(node);
    const underlayIp = underlay.attach(node, index, { ipv6: opts.ipv6 });
    node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']); // a kubelet node forwards
    if (opts.ipv6) node.exec('sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
    opts.prepare?.(node, index);
    const subnetFile = join(node.tmp, 'subnet.env');
    const stateFile = join(node.tmp, 'agent-state.json');
    const args = [
      '-etcd-endpoints',
      etcd!.endpoints.join(','),
      '-etcd-prefix',
      ETCD_PREFIX,
      '-iface',
      'eth0',
      '-subnet-file',
      subnetFile,
      '-state-file',
      stateFile,
      '-ip-masq',
      '-metrics-addr',
      METRICS_ADDR,
      ...agentFlags,
      ...(opts.nodeFlags?.(index) ?? []),
    ];
    const agent = new AgentProcess(node, args);
    agents.push(agent);
    await agent.waitFor('running', 60_000);
    return { index, node, underlayIp, subnetFile, stateFile, args, agent };
  };

  /** Phase 2: the node's CRI harness (its "before" snapshot taken now). */
  const startHarness = async (s: Awaited<ReturnType<typeof startAgent>>, choice: PluginChoice): Promise<AgentNode> => {
    const { index, node, subnetFile, args } = s;
    let agent = s.agent;
    const flannelDir = join(node.tmp, 'flannel');
    const conflist = (dirs: PodNode['dirs']) => kubeFlannelConflist(subnetFile, flannelDir, dirs.ipam);
    const pn = await startPodNode(`ag${index}`, choice, conflist, { node, stateDirs: [flannelDir] });
    const an: AgentNode = {
      index,
      pn,
      underlayIp: s.underlayIp,
      subnetFile,
      stateFile: s.stateFile,
      flannelDir,
      lease: leaseOf(node, subnetFile, s.underlayIp),
      get agent() {
        return agent;
      },
      async restartAgent(extra: string[] = []) {
        agent = new AgentProcess(node, [...args, ...extra]);
        agents.push(agent);
        await agent.waitFor('running', 60_000);
        an.lease = leaseOf(node, subnetFile, an.underlayIp);
      },
    };
    nodes.push(an);
    return an;
  };

  const addNode = async (index: number, choice: PluginChoice) => startHarness(await startAgent(index), choice);

  try {
    etcd = await EtcdCluster.start(underlay);
    etcd.put(`${ETCD_PREFIX}/config`, networkConfig(backend, opts.config, opts.backendConfig));
    const started = await Promise.all(choices.map((_, i) => startAgent(i + 1)));
    // Every node has every other node's route before any harness takes its "before" snapshot.
    for (const s of started)
      await eventually(
        `node ${s.index} learns its peers`,
        () =>
          [4, ...(opts.config?.EnableIPv6 ? [6 as const] : [])].every(
            (f) => Object.keys(podRoutes(s.node, backend, f as 4 | 6)).length === started.length - 1,
          ),
        30_000,
      );
    for (const [i, s] of started.entries()) await startHarness(s, choices[i]);
    return { underlay, etcd, backend, nodes, addNode, teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

/** Poll `check` until it returns true (or throw with the last reason after `timeoutMs`). */
export async function eventually(what: string, check: () => boolean | string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: boolean | string = false;
  while (Date.now() < deadline) {
    try {
      last = check();
    } catch (err) {
      last = (err as Error).message;
    }
    if (last === true) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not so within ${timeoutMs} ms${typeof last === 'string' ? ` (${last})` : ''}`);
}

/**
 * The pod-network routes a node has: destination → gateway (vxlan: flannel.1 or flannel-v6.1, and eth0
 * for peers routed directly; host-gw: eth0), of IPv4 or of IPv6.
 */
export function podRoutes(node: TestNode, backend: BackendType, family: 4 | 6 = 4): Record<string, string> {
  const devs = backend === 'vxlan' ? [family === 4 ? 'flannel.1' : 'flannel-v6.1', 'eth0'] : ['eth0'];
  if (!existsSync(node.path)) return {};
  const prefix = family === 4 ? '10.244.' : 'fd00:10:244:';
  const routes = devs.flatMap(
    (dev) =>
      JSON.parse(node.exec('ip', ['-j', `-${family}`, 'route', 'show', 'dev', dev], { allowFail: true }) || '[]') as {
        dst: string;
        gateway?: string;
      }[],
  );
  return Object.fromEntries(
    routes.filter((r) => r.gateway && r.dst.startsWith(prefix)).map((r) => [r.dst, r.gateway!]),
  );
}

/** The node's /metrics body, fetched inside its namespace (an HTTP/1.0 request through socat). */
export function metricsOf(node: TestNode): string {
  const res = node.exec('socat', ['-t', '5', '-', `TCP:${METRICS_ADDR}`], {
    input: 'GET /metrics HTTP/1.0\r\nHost: agent\r\n\r\n',
  });
  const body = res.indexOf('\r\n\r\n');
  if (!res.startsWith('HTTP/1.1 200') || body < 0) throw new Error(`GET /metrics: ${res.slice(0, 200)}`);
  return res.slice(body + 4);
}
