/**
 * Policy enforcement for dual-stack pods on our bridge plugin (host-local with an IPv4 and an IPv6
 * range, one node): IPv6 TCP is filtered like IPv4 (bridged IPv6 reaches the forward hook through
 * bridge-nf-call-ip6tables), IPv6 ipBlocks with except; the node itself still reaches its pods under
 * default deny (kubelet probes); the per-policy drop counters count denied packets and survive a
 * table replacement.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIST_BIN,
  TestNode,
  attachBridgePod,
  missingForKernelTests,
  sh,
  startTcpServer,
  tcpRequest,
  type TcpServer,
} from '@tscni/testing/node';
import { parseNetworkPolicy, type Cluster, type PodInfo } from '@tscni/policy';
import { compile } from '../src/policy/compile';
import { PolicyTable } from '../src/policy/table';

const missing =
  missingForKernelTests(['ip', 'nsenter', 'nft', 'sysctl']) ??
  (existsSync('/proc/sys/net/bridge/bridge-nf-call-ip6tables')
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
const NO_DAD = ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'];

describe.skipIf(!!missing)(
  `policy enforcement for dual-stack pods (IPv4 and IPv6)${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let table: PolicyTable;
    const netns: Record<string, string> = {};
    const pods: PodInfo[] = [];
    const servers: TcpServer[] = [];
    const cluster = (...policies: ReturnType<typeof np>[]): Cluster => ({
      pods,
      namespaces: [{ name: 'prod', labels: {} }],
      policies,
    });
    const pod = (name: string) => pods.find((p) => p.name === name)!;
    const v6 = (name: string) => pod(name).ips!.find((ip) => ip.includes(':'))!;
    const answered = (from: string, host: string) => tcpRequest(from, host, 80, 1500).startsWith('web ');
    const reach = (from: string, to: 'v4' | 'v6') => answered(netns[from], to === 'v4' ? pod('web').ip : v6('web'));

    beforeAll(async () => {
      node = new TestNode('pds');
      node.exec('sysctl', [
        '-qw',
        'net.bridge.bridge-nf-call-iptables=1',
        'net.bridge.bridge-nf-call-ip6tables=1',
        'net.ipv6.conf.all.forwarding=1',
        ...NO_DAD.slice(1),
      ]);
      table = new PolicyTable(node.path);
      for (const [name, labels] of [
        ['web', { app: 'web' }],
        ['client', { role: 'client' }],
        ['other', {}],
      ] as const) {
        netns[name] = node.addPod(name.slice(0, 2));
        sh('sysctl', NO_DAD, { netns: netns[name] });
        const ips = await attachBridgePod(node, netns[name], {
          containerId: `c-${name}`,
          network: 'pdsnet',
          bridge: 'pdsbr0',
          subnets: ['10.81.0.0/24', 'fd81::/64'],
        });
        pods.push({ name, namespace: 'prod', labels: { ...labels }, ip: ips[0], ips, node: 'n1' });
        servers.push(await startTcpServer(netns[name], 80, name));
      }
    }, 60_000);

    afterAll(async () => {
      for (const s of servers) s.close();
      await table?.remove().catch(() => undefined);
      node?.destroy();
    });

    it('every pod has an IPv4 and an IPv6 address; without policy both families pass', () => {
      expect(pods.map((p) => p.ips!.map((ip) => (ip.includes(':') ? 6 : 4)))).toEqual([
        [4, 6],
        [4, 6],
        [4, 6],
      ]);
      expect(reach('client', 'v4')).toBe(true);
      expect(reach('client', 'v6')).toBe(true);
    });

    it('default deny ingress blocks IPv4 and IPv6 into web; the node itself still reaches web on both (probes)', async () => {
      await table.sync(compile(cluster(np('deny', 'prod', { podSelector: { matchLabels: { app: 'web' } } })), 'n1'));
      expect(node.exec('nft', ['list', 'map', 'inet', 'tscni-policy', 'ingress6'])).toContain(`${v6('web')} : jump i_`);
      expect(reach('client', 'v4')).toBe(false);
      expect(reach('client', 'v6')).toBe(false);
      expect(answered(node.path, pod('web').ip)).toBe(true);
      expect(answered(node.path, v6('web'))).toBe(true);
      const { policies } = await table.readCounters();
      expect(policies.find((c) => c.comment === 'prod/deny ingress')?.packets).toBeGreaterThanOrEqual(2);
    });

    it('allow by pod labels admits the client on both families; a table replacement keeps the per-policy counter', async () => {
      const before = (await table.readCounters()).policies.find((c) => c.comment === 'prod/deny ingress')!.packets;
      const allow = np('from-client', 'prod', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }],
      });
      expect(
        (
          await table.sync(
            compile(cluster(np('deny', 'prod', { podSelector: { matchLabels: { app: 'web' } } }), allow), 'n1'),
          )
        ).kind,
      ).toBe('full');
      expect(reach('client', 'v6')).toBe(true);
      expect(reach('client', 'v4')).toBe(true);
      expect(reach('other', 'v6')).toBe(false);
      const counters = (await table.readCounters()).policies;
      // A packet no policy allowed counts for every policy isolating the pod.
      expect(counters.find((c) => c.comment === 'prod/deny ingress')!.packets).toBeGreaterThan(before);
      expect(counters.find((c) => c.comment === 'prod/from-client ingress')!.packets).toBeGreaterThan(0);
    });

    it('a peer gaining the labels joins both families’ sets by element adds alone', async () => {
      const allow = np('from-client', 'prod', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }],
      });
      await table.sync(compile(cluster(allow), 'n1'));
      expect(reach('other', 'v6')).toBe(false);
      pod('other').labels = { role: 'client' };
      const joined = await table.sync(compile(cluster(allow), 'n1'));
      expect(joined.kind).toBe('elements');
      // Adjacent addresses merge into one range, so an add may come with the delete of the range it extends.
      const lines = joined.script.trim().split('\n');
      expect(lines.every((l) => /^(add|delete) element inet tscni-policy s6?_\w+ \{ [^}]+ \}$/.test(l))).toBe(true);
      expect(lines.filter((l) => l.startsWith('add element inet tscni-policy s6_')).join()).toMatch(/fd81::/);
      expect(lines.filter((l) => l.startsWith('add element inet tscni-policy s_')).join()).toMatch(/10\.81\.0\./);
      expect(reach('other', 'v6')).toBe(true);
      pod('other').labels = {};
    });

    it('an IPv6 ipBlock with except: the pod network minus one address; IPv4 is not in the block', async () => {
      const block = np('from-block6', 'prod', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ ipBlock: { cidr: 'fd81::/64', except: [`${v6('other')}/128`] } }] }],
      });
      await table.sync(compile(cluster(block), 'n1'));
      expect(reach('client', 'v6')).toBe(true);
      expect(reach('other', 'v6')).toBe(false);
      expect(reach('client', 'v4')).toBe(false);
    });

    it('removing the policies leaves nothing', async () => {
      await table.sync(compile(cluster(), 'n1'));
      expect(node.exec('nft', ['list', 'ruleset'])).not.toContain('tscni-policy');
      expect(reach('other', 'v6')).toBe(true);
    });
  },
);
