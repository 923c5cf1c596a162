/**
 * The policy table alongside the portmap and firewall plugins: a pod added by the chain bridge → portmap
 * → firewall (iptables), reached from outside the node through its hostPort. As Kubernetes defines it,
 * the policy judges the traffic after the hostPort DNAT: the pod's port and the client's own address;
 * the firewall's iptables accept does not override a drop in our table. DEL of the chain and removal of
 * the policy leave nothing of the pod in iptables and no table of ours.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIST_BIN,
  TestNode,
  addOutside,
  missingForKernelTests,
  startTcpServer,
  tcpRequest,
  type PluginEnv,
  type TcpServer,
} from '@tscni/testing/node';
import { parseNetworkPolicy, type Cluster, type PodInfo } from '@tscni/policy';
import { compile } from '../src/policy/compile';
import { PolicyTable } from '../src/policy/table';

const CHAIN = ['bridge', 'portmap', 'firewall'];
const missing =
  missingForKernelTests(['ip', 'nsenter', 'nft', 'iptables-save', 'sysctl']) ??
  (existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')
    ? undefined
    : 'br_netfilter (bridged traffic must reach the forward hook)') ??
  CHAIN.map((t) =>
    existsSync(join(DIST_BIN, t)) ? undefined : `${DIST_BIN}/${t} is not built (nx run-many -t build)`,
  ).find(Boolean);

const np = (name: string, spec: unknown) =>
  parseNetworkPolicy({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: 'prod' },
    spec,
  });
const HOST_PORT = 18080;
const NODE_IP = '198.51.100.1';
const OUTSIDE_IP = '198.51.100.2';

describe.skipIf(!!missing)(
  `policy with the chain bridge → portmap → firewall (hostPort traffic)${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let table: PolicyTable;
    let outside: string;
    let podNetns: string;
    let web: PodInfo;
    let result: Record<string, unknown> = {};
    const servers: TcpServer[] = [];
    const plugins = [
      {
        type: 'bridge',
        bridge: 'pchbr0',
        isGateway: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: '10.82.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      {
        type: 'portmap',
        capabilities: { portMappings: true },
        runtimeConfig: { portMappings: [{ hostPort: HOST_PORT, containerPort: 80, protocol: 'tcp' }] },
      },
      { type: 'firewall', backend: 'iptables' },
    ];
    const env = (command: string): PluginEnv => ({
      CNI_COMMAND: command,
      CNI_CONTAINERID: 'c-web',
      CNI_NETNS: podNetns,
      CNI_IFNAME: 'eth0',
      CNI_PATH: DIST_BIN,
    });
    const conf = (p: (typeof plugins)[number], prevResult?: unknown) => ({
      cniVersion: '1.0.0',
      name: 'pchnet',
      ...p,
      ...(p.type === 'bridge' ? { ipam: { ...p.ipam, dataDir: join(node.tmp, 'ipam') } } : {}),
      ...(prevResult ? { prevResult } : {}),
    });
    const cluster = (...policies: ReturnType<typeof np>[]): Cluster => ({ pods: [web], namespaces: [], policies });
    /** From outside the node to the node's hostPort: the pod answers with the client address it saw. */
    const viaHostPort = () => tcpRequest(outside, NODE_IP, HOST_PORT, 1500);

    beforeAll(async () => {
      node = new TestNode('pch');
      node.exec('sysctl', ['-qw', 'net.bridge.bridge-nf-call-iptables=1', 'net.ipv4.ip_forward=1']);
      table = new PolicyTable(node.path);
      outside = addOutside(node);
      podNetns = node.addPod('web');
      for (const p of plugins) {
        const r = await node.runPlugin(
          join(DIST_BIN, p.type),
          env('ADD'),
          conf(p, result.cniVersion ? result : undefined),
        );
        if (r.code !== 0) throw new Error(`${p.type} ADD: ${r.stdout}${r.stderr}`);
        result = r.json;
      }
      web = {
        name: 'web',
        namespace: 'prod',
        labels: { app: 'web' },
        ip: (result.ips as { address: string }[])[0].address.split('/')[0],
        node: 'n1',
      };
      servers.push(await startTcpServer(podNetns, 80, 'web'));
    }, 60_000);

    afterAll(async () => {
      for (const s of servers) s.close();
      await table?.remove().catch(() => undefined);
      node?.destroy();
    });

    it('without a policy the hostPort reaches the pod, which sees the client’s own address', () => {
      expect(viaHostPort()).toBe(`web ${OUTSIDE_IP}`);
      expect(node.exec('iptables-save', [])).toContain(`--to-destination ${web.ip}:80`);
    });

    it('default deny ingress: hostPort traffic is dropped though the firewall plugin accepts the pod’s traffic; the node still reaches the pod', async () => {
      await table.sync(compile(cluster(np('deny', { podSelector: {} })), 'n1'));
      expect(node.exec('iptables-save', ['-t', 'filter'])).toMatch(
        new RegExp(`-A CNI-FORWARD -d ${web.ip.replaceAll('.', '\\.')}/32 .*-j ACCEPT`),
      );
      expect(viaHostPort()).toMatch(/^error/);
      expect(tcpRequest(node.path, web.ip, 80, 1500)).toMatch(/^web /);
    });

    it('the policy judges the pod’s port and the client’s address, not the hostPort or the node', async () => {
      const deny = np('deny', { podSelector: {} });
      const allow = (name: string, from: unknown, port: number) =>
        np(name, {
          podSelector: { matchLabels: { app: 'web' } },
          ingress: [{ from: [{ ipBlock: from }], ports: [{ port }] }],
        });
      await table.sync(compile(cluster(deny, allow('from-outside', { cidr: `${OUTSIDE_IP}/32` }, 80)), 'n1'));
      expect(viaHostPort()).toBe(`web ${OUTSIDE_IP}`);
      await table.sync(compile(cluster(deny, allow('on-host-port', { cidr: `${OUTSIDE_IP}/32` }, HOST_PORT)), 'n1'));
      expect(viaHostPort()).toMatch(/^error/);
      await table.sync(
        compile(
          cluster(deny, allow('all-but-outside', { cidr: '198.51.100.0/24', except: [`${OUTSIDE_IP}/32`] }, 80)),
          'n1',
        ),
      );
      expect(viaHostPort()).toMatch(/^error/);
    });

    it('DEL of the chain and removal of the policy leave nothing of the pod or of ours', async () => {
      for (const p of [...plugins].reverse()) {
        const r = await node.runPlugin(join(DIST_BIN, p.type), env('DEL'), conf(p, result));
        expect(r.code, `${p.type} DEL: ${r.stdout}${r.stderr}`).toBe(0);
      }
      await table.sync(compile({ pods: [], namespaces: [], policies: [np('deny', { podSelector: {} })] }, 'n1'));
      expect(node.exec('nft', ['list', 'ruleset'])).not.toContain('tscni-policy');
      const saved = node.exec('iptables-save', []);
      expect(saved).not.toContain(web.ip);
      expect(saved).not.toContain(String(HOST_PORT));
    });
  },
);
