/**
 * Policy enforcement on a real node namespace: three pods on our bridge plugin, TCP between them,
 * the compiled `inet tscni-policy` table applied with nft; bridged traffic reaches the inet forward
 * hook through br_netfilter (bridge-nf-call-iptables in the node namespace).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIST_BIN,
  TestNode,
  attachBridgePod,
  attachPod,
  missingForKernelTests,
  startTcpServer,
  tcpRequest,
  type TcpServer,
} from '@tscni/testing/node';
import { parseNetworkPolicy, type Cluster, type PodInfo } from '@tscni/policy';
import { compile } from '../src/policy/compile';
import { PolicyTable } from '../src/policy/table';

const missing =
  missingForKernelTests(['ip', 'nsenter', 'nft']) ??
  (existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')
    ? undefined
    : 'br_netfilter (bridged traffic must reach the forward hook)') ??
  (existsSync(join(DIST_BIN, 'bridge')) ? undefined : `${DIST_BIN}/bridge is not built (nx run-many -t build)`);

const np = (name: string, namespace: string, spec: unknown) =>
  parseNetworkPolicy({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace },
    spec,
  });

describe.skipIf(!!missing)(
  `policy enforcement with nftables on our bridge${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let table: PolicyTable;
    const netns: Record<string, string> = {};
    const pods: PodInfo[] = [];
    const servers: TcpServer[] = [];
    const cluster = (...policies: ReturnType<typeof np>[]): Cluster => ({
      pods,
      namespaces: [
        { name: 'prod', labels: {} },
        { name: 'dev', labels: { env: 'dev' } },
      ],
      policies,
    });
    const ruleset = () => node.exec('nft', ['list', 'ruleset']);
    const reach = (from: string, to: string, port: number) =>
      !tcpRequest(netns[from], pods.find((p) => p.name === to)!.ip, port, 1500).startsWith('error');

    beforeAll(async () => {
      node = new TestNode('pol');
      node.exec('sysctl', ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=1']);
      table = new PolicyTable(node.path);
      const layout: [string, string, Record<string, string>][] = [
        ['web', 'prod', { app: 'web' }],
        ['client', 'prod', { role: 'client' }],
        ['other', 'dev', {}],
      ];
      for (const [name, namespace, labels] of layout) {
        netns[name] = node.addPod(name.slice(0, 2));
        const [ip] = await attachBridgePod(node, netns[name], {
          containerId: `c-${name}`,
          network: 'polnet',
          bridge: 'polbr0',
          subnets: ['10.77.0.0/24'],
        });
        pods.push({ name, namespace, labels, ip, node: 'n1' });
        servers.push(await startTcpServer(netns[name], 80, name), await startTcpServer(netns[name], 8080, name));
      }
    }, 60_000);

    afterAll(async () => {
      for (const s of servers) s.close();
      await table?.remove().catch(() => undefined);
      node?.destroy();
    });

    it('no policy: no table, every pod reaches every other', async () => {
      expect((await table.sync(compile(cluster(), 'n1'))).kind).toBe('full');
      expect(ruleset()).not.toContain('tscni-policy');
      expect(reach('client', 'web', 80)).toBe(true);
      expect(reach('other', 'web', 8080)).toBe(true);
    });

    it('default deny ingress in prod blocks TCP into prod pods; prod pods still connect out and get their replies', async () => {
      await table.sync(compile(cluster(np('deny', 'prod', { podSelector: {} })), 'n1'));
      expect(ruleset()).toContain('table inet tscni-policy');
      expect(reach('client', 'web', 80)).toBe(false);
      expect(reach('other', 'web', 80)).toBe(false);
      expect(reach('web', 'other', 80)).toBe(true);
      const drops = await table.dropCounters();
      expect(drops.find((d) => d.comment === 'prod/web ingress denied')?.packets).toBeGreaterThan(0);
    });

    it('an allow rule (labelled pods, one port) admits exactly that; policies add up', async () => {
      const allow = np('web-from-clients', 'prod', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 80 }] }],
      });
      expect((await table.sync(compile(cluster(np('deny', 'prod', { podSelector: {} }), allow), 'n1'))).kind).toBe(
        'full',
      );
      expect(reach('client', 'web', 80)).toBe(true);
      expect(reach('client', 'web', 8080)).toBe(false);
      expect(reach('other', 'web', 80)).toBe(false);
    });

    it('a peer gaining the selected labels joins the set by an element add alone (no ruleset rebuild); a port range admits 8080', async () => {
      const fromDev = np('web-from-dev', 'prod', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { env: 'dev' } }, podSelector: { matchLabels: { role: 'client' } } },
            ],
            ports: [{ port: 79, endPort: 8080 }],
          },
        ],
      });
      const policies = [np('deny', 'prod', { podSelector: {} }), fromDev];
      await table.sync(compile(cluster(...policies), 'n1'));
      expect(reach('other', 'web', 8080)).toBe(false);
      pods.find((p) => p.name === 'other')!.labels = { role: 'client' };
      const r = await table.sync(compile(cluster(...policies), 'n1'));
      expect(r.kind).toBe('elements');
      expect(r.script).toMatch(/^add element inet tscni-policy s_\w+ \{ 10\.77\.0\.\d+ \}\n$/);
      expect(reach('other', 'web', 8080)).toBe(true);
      expect(reach('other', 'web', 80)).toBe(true);
      expect(reach('client', 'web', 80)).toBe(false);
    });

    it('ipBlock with except', async () => {
      const other = pods.find((p) => p.name === 'other')!.ip;
      const block = np('web-from-block', 'prod', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ ipBlock: { cidr: '10.77.0.0/24', except: [`${other}/32`] } }] }],
      });
      await table.sync(compile(cluster(block), 'n1'));
      expect(reach('client', 'web', 80)).toBe(true);
      expect(reach('other', 'web', 80)).toBe(false);
    });

    it('egress: a client allowed out only to web:80; what comes in to it is unaffected', async () => {
      const egress = np('client-out', 'prod', {
        podSelector: { matchLabels: { role: 'client' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ protocol: 'TCP', port: 80 }] }],
      });
      await table.sync(compile(cluster(egress), 'n1'));
      expect(reach('client', 'web', 80)).toBe(true);
      expect(reach('client', 'web', 8080)).toBe(false);
      expect(reach('client', 'other', 80)).toBe(false);
      expect(reach('web', 'client', 8080)).toBe(true);
    });

    it('removing the policies restores access and leaves nothing in the ruleset', async () => {
      await table.sync(compile(cluster(), 'n1'));
      expect(ruleset()).not.toContain('tscni-policy');
      expect(reach('client', 'web', 8080)).toBe(true);
      expect(reach('other', 'web', 80)).toBe(true);
    });
  },
);

describe.skipIf(!!missing)(
  `policy enforcement with pods on our ptp plugin (routed, no bridge)${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    const table = () => new PolicyTable(node.path);
    const pods: PodInfo[] = [];
    const netns: Record<string, string> = {};
    const servers: TcpServer[] = [];
    const reach = (from: string, to: string) =>
      !tcpRequest(netns[from], pods.find((p) => p.name === to)!.ip, 80, 1500).startsWith('error');

    beforeAll(async () => {
      node = new TestNode('ptp');
      node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      for (const [name, labels] of [
        ['web', { app: 'web' }],
        ['client', { role: 'client' }],
        ['other', {}],
      ] as const) {
        netns[name] = node.addPod(name.slice(0, 2));
        const [ip] = await attachPod(node, netns[name], {
          containerId: `c-${name}`,
          network: 'ptpnet',
          plugin: { type: 'ptp', ipMasq: false },
          subnets: ['10.79.0.0/24'],
        });
        pods.push({ name, namespace: 'prod', labels: { ...labels }, ip });
        servers.push(await startTcpServer(netns[name], 80, name));
      }
    }, 60_000);
    afterAll(async () => {
      for (const s of servers) s.close();
      if (node)
        await table()
          .remove()
          .catch(() => undefined);
      node?.destroy();
    });

    it('routed pod-to-pod traffic goes through the same forward hook: deny, then allow by label, then nothing left', async () => {
      const t = table();
      const deny = np('deny', 'prod', { podSelector: { matchLabels: { app: 'web' } } });
      const allow = np('allow', 'prod', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }],
      });
      expect(reach('client', 'web')).toBe(true);
      await t.sync(compile({ pods, namespaces: [], policies: [deny] }));
      expect(reach('client', 'web')).toBe(false);
      expect(reach('web', 'other')).toBe(true);
      await t.sync(compile({ pods, namespaces: [], policies: [deny, allow] }));
      expect(reach('client', 'web')).toBe(true);
      expect(reach('other', 'web')).toBe(false);
      await t.sync(compile({ pods, namespaces: [], policies: [] }));
      expect(node.exec('nft', ['list', 'ruleset'])).not.toContain('tscni-policy');
      expect(reach('other', 'web')).toBe(true);
    });
  },
);
