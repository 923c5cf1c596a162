/**
 * Network policy on the 3-node cluster: a 3-member etcd cluster, tscni-agent -network-policy on every node
 * (vxlan), each node's CRI harness publishing its pods to etcd, policies applied with the `tscni policy` CLI.
 * Real TCP between pods on the same node (bridged: br_netfilter) and on other nodes (routed over VXLAN);
 * each case asserts the allowed and the denied flows, then deletes its policies and checks access is back.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingForKernelTests, startTcpServer, tcpRequest, type TcpServer } from '@tscni/testing/node';
import { DEFAULT_PREFIX, policyKeyOf } from '@tscni/policy';
import { podJson, type PluginChoice } from '@tscni/testing/cluster';
import { Prober } from './prober';
import {
  eventually,
  metricsOf,
  startAgentCluster,
  type AgentCluster,
  type AgentNode,
} from '../multinode/agent-cluster';

const OURS: PluginChoice = { flannel: 'ours', bridge: 'ours', 'host-local': 'ours', portmap: 'ours', loopback: 'ours' };
const CLI = join(import.meta.dirname, '../../dist/bin/tscni');
const missing = missingForKernelTests(['ip', 'nsenter', 'nft', 'etcd', 'etcdctl', 'socat']);

interface Pod {
  name: string;
  namespace: string;
  ip: string;
  netns: string;
  node: number;
}

const UDP_ECHO = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(process.argv[2] + ' ' + r.address, r.port, r.address));
s.bind(Number(process.argv[1]), () => process.stdout.write('ready\\n'));
`;
const UDP_ASK = `
const s = require('node:dgram').createSocket('udp4');
const t = setTimeout(() => process.exit(1), 1000);
s.on('message', (m) => { process.stdout.write(m.toString()); clearTimeout(t); s.close(); });
s.send('q', Number(process.argv[2]), process.argv[1]);
`;

/** A UDP server answering each datagram with `<tag> <peer>` (a stand-in for DNS). */
function startUdpEcho(netns: string, port: number, tag: string): Promise<TcpServer> {
  const child = spawn('nsenter', [`--net=${netns}`, '--', process.execPath, '-e', UDP_ECHO, String(port), tag], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve({ close: () => void child.kill('SIGKILL') }));
    child.once('exit', (code) => reject(new Error(`udp echo exited ${code}`)));
  });
}
const udpAsk = (netns: string, host: string, port: number): string =>
  spawnSync('nsenter', [`--net=${netns}`, '--', process.execPath, '-e', UDP_ASK, host, String(port)], {
    encoding: 'utf8',
    timeout: 5000,
  }).stdout.trim();

const np = (name: string, namespace: string, spec: unknown) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec,
});

describe.skipIf(!!missing)(`network policy across three nodes${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let cluster: AgentCluster;
  const pods: Record<string, Pod> = {};
  const servers: TcpServer[] = [];

  const cli = (...args: string[]) => {
    const node = cluster.nodes[0].pn.node;
    return node.exec(process.execPath, [CLI, 'policy', ...args, '--etcd-endpoints', cluster.etcd.endpoints.join(',')], {
      input: args.includes('-') ? pending : undefined,
    });
  };
  let pending = '';
  const apply = (...policies: unknown[]) => {
    pending = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: policies });
    return cli('apply', '-f', '-');
  };
  const reach = (from: string, to: string, port = 80) =>
    tcpRequest(pods[from].netns, pods[to].ip, port, 1000) === `${to}:${port} ${pods[from].ip}`;
  /** Each flow as expected (the policy reaches every node within a few seconds, usually well under one). */
  const expectFlows = async (flows: [string, string, number, boolean][]) => {
    for (const [from, to, port, want] of flows)
      await eventually(
        `${from} → ${to}:${port} ${want ? 'allowed' : 'denied'}`,
        () => reach(from, to, port) === want,
        8000,
      );
  };

  const runPod = async (an: AgentNode, name: string, namespace: string, labels: Record<string, string>) => {
    const id = await an.pn.crictl.runp(
      podJson(name, { metadata: { name, namespace, uid: `uid-${name}`, attempt: 0 }, labels }),
    );
    const { status, info } = await an.pn.crictl.inspectp(id);
    an.pn.podNetns.push(info.netns);
    pods[name] = { name, namespace, ip: status.network.ip as string, netns: info.netns as string, node: an.index };
    for (const port of [80, 8080]) servers.push(await startTcpServer(info.netns, port, `${name}:${port}`));
  };

  beforeAll(async () => {
    cluster = await startAgentCluster('vxlan', [OURS, OURS, OURS], ['-network-policy']);
    for (const an of cluster.nodes) {
      // Pods on one node talk over the cni0 bridge: their packets reach the forward hook through br_netfilter.
      an.pn.node.exec('sysctl', ['-qw', 'net.bridge.bridge-nf-call-iptables=1']);
      // The harness again, now publishing its pods to etcd.
      await an.pn.harness.stop();
      an.pn.opts.extraArgs = ['--etcd-endpoints', cluster.etcd.endpoints.join(','), '--node-name', `node-${an.index}`];
      await an.pn.restart();
    }
    const [n1, n2, n3] = cluster.nodes;
    await runPod(n1, 'web', 'prod', { app: 'web' });
    await runPod(n1, 'client1', 'prod', { role: 'client' });
    await runPod(n2, 'client2', 'dev', { role: 'client' });
    await runPod(n2, 'mon', 'ops', { role: 'monitor' });
    await runPod(n3, 'other', 'dev', { role: 'batch' });
    cli('namespace', 'ops', 'team=ops');
    cli('namespace', 'dev', 'team=dev');
  }, 240_000);

  afterAll(async () => {
    for (const s of servers) s.close();
    await cluster?.teardown();
  }, 120_000);

  const everyoneReachesWeb = async () =>
    expectFlows(
      ['client1', 'client2', 'mon', 'other'].map((p) => [p, 'web', 80, true] as [string, string, number, boolean]),
    );

  it('the harness published every pod; without policies every pod reaches web', async () => {
    const ls = JSON.parse(cli('ls', '--json')) as unknown[];
    expect(ls).toEqual([]);
    await everyoneReachesWeb();
    expect(cli('explain', 'prod/web')).toContain('ingress: not isolated, everything allowed');
  });

  it('default deny ingress: nothing reaches web from the same node or another; web still connects out', async () => {
    apply(np('default-deny', 'prod', { podSelector: {} }));
    await expectFlows([
      ['client1', 'web', 80, false],
      ['client2', 'web', 80, false],
      ['other', 'web', 80, false],
      ['web', 'other', 80, true],
      ['web', 'mon', 8080, true],
    ]);
    await eventually(
      'drops of prod/web on /metrics',
      () =>
        /tscni_agent_policy_dropped_packets\{pod="prod\/web",direction="ingress"\} [1-9]/.test(
          metricsOf(cluster.nodes[0].pn.node),
        ),
      5000,
    );
    await eventually(
      'drops of prod/default-deny on /metrics',
      () =>
        /tscni_agent_policy_drops_total\{policy="prod\/default-deny",direction="ingress"\} [1-9]/.test(
          metricsOf(cluster.nodes[0].pn.node),
        ),
      5000,
    );
    // The pod's own node (kubelet probes) still reaches it; another node's host is just another source.
    expect(tcpRequest(cluster.nodes[0].pn.node.path, pods.web.ip, 80, 1500)).toMatch(/^web:80 /);
    expect(tcpRequest(cluster.nodes[1].pn.node.path, pods.web.ip, 80, 1500)).toMatch(/^error/);
    // Only node 1 has isolated pods: the others carry no table.
    expect(cluster.nodes[1].pn.node.exec('nft', ['list', 'ruleset'])).not.toContain('tscni-policy');
  });

  it('allow from a namespace (by its labels): ops reaches web across nodes, dev does not', async () => {
    apply(
      np('web-from-ops', 'prod', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }] }],
      }),
    );
    await expectFlows([
      ['mon', 'web', 80, true],
      ['client2', 'web', 80, false],
      ['client1', 'web', 80, false],
    ]);
    expect(cli('explain', 'prod/web')).toContain(
      `from all pods in namespaces team=ops on any port  [prod/web-from-ops]\n    now: ops/mon ${pods.mon.ip}`,
    );
    cli('delete', 'web-from-ops', '-n', 'prod');
  });

  it('allow from labelled pods in another namespace: dev clients only, on one node or another', async () => {
    apply(
      np('web-from-dev-clients', 'prod', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { team: 'dev' } }, podSelector: { matchLabels: { role: 'client' } } },
            ],
          },
        ],
      }),
    );
    await expectFlows([
      ['client2', 'web', 80, true],
      ['other', 'web', 80, false],
      ['mon', 'web', 80, false],
      ['client1', 'web', 80, false],
    ]);
    cli('delete', 'web-from-dev-clients', '-n', 'prod');
  });

  it('ipBlock with except: the cluster network minus node 3’s subnet', async () => {
    const node3 = cluster.nodes[2].lease.subnet;
    apply(
      np('web-from-block', 'prod', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ ipBlock: { cidr: '10.244.0.0/16', except: [node3] } }] }],
      }),
    );
    await expectFlows([
      ['client2', 'web', 80, true],
      ['client1', 'web', 80, true],
      ['other', 'web', 80, false],
    ]);
    cli('delete', 'web-from-block', '-n', 'prod');
  });

  it('a port range: 8000-8080 open to everyone, 80 still closed', async () => {
    apply(
      np('web-high-ports', 'prod', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ ports: [{ protocol: 'TCP', port: 8000, endPort: 8080 }] }],
      }),
    );
    await expectFlows([
      ['client2', 'web', 8080, true],
      ['other', 'web', 8080, true],
      ['client2', 'web', 80, false],
    ]);
    cli('delete', 'web-high-ports', '-n', 'prod');
  });

  it('egress deny with DNS allowed: a dev client sends UDP to port 53 anywhere and gets the answer, nothing else', async () => {
    for (const port of [53, 5353]) servers.push(await startUdpEcho(pods.mon.netns, port, `mon:${port}`));
    const udp = (port: number) => udpAsk(pods.client2.netns, pods.mon.ip, port) === `mon:${port} ${pods.client2.ip}`;
    expect(udp(53) && udp(5353)).toBe(true);
    apply(
      np('dev-dns-only', 'dev', {
        podSelector: { matchLabels: { role: 'client' } },
        policyTypes: ['Egress'],
        egress: [
          {
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
        ],
      }),
    );
    await eventually('client2 → mon udp/5353 denied', () => !udp(5353), 8000);
    expect(udp(53)).toBe(true);
    await expectFlows([
      ['client2', 'mon', 80, false],
      ['mon', 'client2', 80, true],
    ]);
    cli('delete', 'dev-dns-only', '-n', 'dev');
    await eventually('client2 → mon udp/5353 allowed again', () => udp(5353), 8000);
  });

  it('egress: dev clients may only reach web:80; deleting every policy restores access and leaves no table', async () => {
    apply(
      np('dev-egress', 'dev', {
        podSelector: { matchLabels: { role: 'client' } },
        policyTypes: ['Egress'],
        egress: [
          { to: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 80 }] },
        ],
      }),
    );
    cli('delete', 'default-deny', '-n', 'prod');
    await expectFlows([
      ['client2', 'web', 80, true],
      ['client2', 'web', 8080, false],
      ['client2', 'mon', 80, false],
      ['mon', 'client2', 80, true],
    ]);
    cli('delete', 'dev-egress', '-n', 'dev');
    await everyoneReachesWeb();
    await expectFlows([['client2', 'mon', 80, true]]);
    for (const an of cluster.nodes)
      await eventually(
        `node ${an.index} has no policy table`,
        () => !an.pn.node.exec('nft', ['list', 'ruleset']).includes('tscni-policy'),
        5000,
      );
  });

  it('a change takes effect for new connections within a second of its etcd write: apply, an allow, a pod starting on another node, delete', async () => {
    const [n1, , n3] = cluster.nodes;
    // Written with etcdctl on node 1 (what `tscni policy apply` stores): the clock starts just before the write,
    // not at the start of a node process.
    const etcdctl = (...args: string[]) =>
      n1.pn.node.exec('etcdctl', ['--endpoints', cluster.etcd.endpoints.join(','), ...args]);
    const write = (p: ReturnType<typeof np>) => {
      const t0 = Date.now();
      etcdctl('put', policyKeyOf(DEFAULT_PREFIX, p.metadata.namespace, p.metadata.name), JSON.stringify(p));
      return t0;
    };
    const probers = [await Prober.start(pods.client1.netns), await Prober.start(pods.client2.netns)];
    const [same, across] = probers;
    const timed: Record<string, number> = {};
    try {
      let t0 = write(np('default-deny', 'prod', { podSelector: {} }));
      timed['deny, other node'] = await across.timeUntil(pods.web.ip, 80, false, t0);
      timed['deny, same node'] = await same.timeUntil(pods.web.ip, 80, false, t0);
      t0 = write(
        np('web-from-dev-clients', 'prod', {
          podSelector: { matchLabels: { app: 'web' } },
          ingress: [
            {
              from: [
                {
                  namespaceSelector: { matchLabels: { team: 'dev' } },
                  podSelector: { matchLabels: { role: 'client' } },
                },
              ],
            },
          ],
        }),
      );
      timed['allow, other node'] = await across.timeUntil(pods.web.ip, 80, true, t0);
      const nft = (...args: string[]) => n1.pn.node.exec('nft', ['-j', ...args]);
      const tableHandle = () =>
        (JSON.parse(nft('list', 'tables')).nftables as { table?: { name: string; handle: number } }[]).find(
          (i) => i.table?.name === 'tscni-policy',
        )?.table?.handle;
      const before = tableHandle();
      // A dev client starting on node 3 (the harness publishes it before RunPodSandbox returns) joins web's peer set on node 1.
      await runPod(n3, 'late', 'dev', { role: 'client' });
      t0 = Date.now();
      const inSet = () =>
        (JSON.parse(nft('list', 'table', 'inet', 'tscni-policy')).nftables as { set?: { elem?: unknown[] } }[]).some(
          (i) => JSON.stringify(i.set?.elem ?? []).includes(`"${pods.late.ip}"`),
        );
      while (!inSet() && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
      timed['new peer pod in the set on another node'] = Date.now() - t0;
      expect(tableHandle(), 'the table was not rebuilt for a new peer').toBe(before);
      await eventually('late → web allowed', () => reach('late', 'web'), 2000);
      expect(cli('explain', 'prod/web')).toContain(`now: dev/client2 ${pods.client2.ip}, dev/late ${pods.late.ip}`);
      t0 = Date.now();
      etcdctl('del', '--prefix', `${DEFAULT_PREFIX}/policies/prod/`);
      timed['delete, same node'] = await same.timeUntil(pods.web.ip, 80, true, t0);
      timed['delete, other node'] = await across.timeUntil(pods.web.ip, 80, true, t0);
    } finally {
      for (const p of probers) p.close();
    }
    console.log(`policy change → new connections: ${JSON.stringify(timed)} ms`);
    for (const [what, ms] of Object.entries(timed)) expect(ms, what).toBeLessThanOrEqual(1000);
    for (const an of cluster.nodes)
      await eventually(
        `node ${an.index} has no policy table`,
        () => !an.pn.node.exec('nft', ['list', 'ruleset']).includes('tscni-policy'),
        5000,
      );
  });
});
