/**
 * The agent's policy loop against a real etcd and a real node namespace: pods, namespaces and policies
 * written to etcd take effect on TCP between pods on our bridge; the table follows deletions and is
 * removed on stop; dropped packets show on /metrics.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Registry } from 'prom-client';
import { parseCIDR, setRunner, spawnRunner, type CommandRunner } from '@tscni/net/host';
import {
  DIST_BIN,
  TestNode,
  attachBridgePod,
  missingForKernelTests,
  startTcpServer,
  tcpRequest,
  type TcpServer,
} from '@tscni/testing/node';
import { PolicyController } from '../src/policy/controller';
import { Registry as EtcdRegistry } from '../src/registry';
import { defaults } from '../src/flags';
import { jsonLogger } from '../src/log';
import { LocalEtcd } from '@tscni/testing/etcd';

const missing =
  missingForKernelTests(['ip', 'nsenter', 'nft', 'etcd']) ??
  (existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables') ? undefined : 'br_netfilter') ??
  (existsSync(join(DIST_BIN, 'bridge')) ? undefined : `${DIST_BIN}/bridge is not built`);

const P = '/tscni/policy';
const policy = (name: string, namespace: string, spec: unknown) =>
  JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec });

async function eventually(check: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe.skipIf(!!missing)(
  `the agent's policy controller (etcd → nftables)${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let etcd: LocalEtcd;
    let client: Etcd3;
    let node: TestNode;
    let restore: CommandRunner;
    let ctl: PolicyController;
    let registry: EtcdRegistry;
    const metrics = new Registry();
    const ips: Record<string, string> = {};
    const netns: Record<string, string> = {};
    const servers: TcpServer[] = [];
    const lines: string[] = [];
    const reach = (from: string, to: string) => !tcpRequest(netns[from], ips[to], 80, 1000).startsWith('error');

    beforeAll(async () => {
      etcd = await LocalEtcd.start();
      client = new Etcd3({ hosts: [etcd.endpoint] });
      node = new TestNode('pct');
      node.exec('sysctl', ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=1']);
      for (const name of ['web', 'client']) {
        netns[name] = node.addPod(name.slice(0, 2));
        [ips[name]] = await attachBridgePod(node, netns[name], {
          containerId: `c-${name}`,
          network: 'polnet',
          bridge: 'pctbr0',
          subnets: ['10.78.0.0/24'],
        });
        servers.push(await startTcpServer(netns[name], 80, name));
      }
      restore = setRunner((cmd, args, opts) => spawnRunner(cmd, args, { ...opts, netns: node.path }));
      await client.put(`${P}/pods/prod/web`).value(JSON.stringify({ ip: ips.web, labels: { app: 'web' }, node: 'n1' }));
      await client
        .put(`${P}/pods/dev/client`)
        .value(JSON.stringify({ ip: ips.client, labels: { role: 'client' }, node: 'n1' }));
      await client.put(`${P}/pods/dev/junk`).value('not json');
      registry = new EtcdRegistry({ ...defaults(), etcdEndpoints: [etcd.endpoint] });
      ctl = new PolicyController(
        registry,
        P,
        parseCIDR('10.78.0.0/24')!,
        jsonLogger((l) => void lines.push(l)),
        metrics,
      );
      await ctl.start();
    }, 60_000);

    afterAll(async () => {
      await ctl?.stop(true).catch(() => undefined);
      if (restore) setRunner(restore);
      for (const s of servers) s.close();
      client?.close();
      registry?.close();
      await etcd?.stop();
      node?.destroy();
    });

    it('a malformed key is reported and skipped; without policies there is no table', () => {
      expect(lines.join('')).toContain('policy data skipped');
      expect(node.exec('nft', ['list', 'ruleset'])).not.toContain('tscni-policy');
      expect(reach('client', 'web')).toBe(true);
    });

    it('a default deny written to etcd blocks new connections within a second or so, and counts the drops', async () => {
      await client.put(`${P}/policies/prod/deny`).value(policy('deny', 'prod', { podSelector: {} }));
      expect(await eventually(() => !reach('client', 'web'))).toBe(true);
      expect(reach('web', 'client')).toBe(true);
      let text = '';
      const perPolicy = /tscni_agent_policy_drops_total\{policy="prod\/deny",direction="ingress"\} [1-9]/;
      for (
        let i = 0;
        i < 30 && !(/pod="prod\/web",direction="ingress"\} [1-9]/.test(text) && perPolicy.test(text));
        i++
      ) {
        text = await metrics.metrics();
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(text).toMatch(/tscni_agent_policy_dropped_packets\{pod="prod\/web",direction="ingress"\} [1-9]/);
      expect(text).toMatch(perPolicy);
      expect(text).toContain('# TYPE tscni_agent_policy_drops_total counter');
    });

    it('allow from a namespace by its labels: labelling the namespace in etcd opens the way', async () => {
      await client.put(`${P}/policies/prod/from-dev`).value(
        policy('from-dev', 'prod', {
          podSelector: { matchLabels: { app: 'web' } },
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'dev' } } }] }],
        }),
      );
      await new Promise((r) => setTimeout(r, 300));
      expect(reach('client', 'web')).toBe(false);
      await client.put(`${P}/namespaces/dev`).value(JSON.stringify({ labels: { team: 'dev' } }));
      expect(await eventually(() => reach('client', 'web'))).toBe(true);
    });

    it('deleting the policies removes the table; stop with cleanup leaves nothing', async () => {
      await client.delete().prefix(`${P}/policies/`);
      expect(await eventually(() => !node.exec('nft', ['list', 'ruleset']).includes('tscni-policy'))).toBe(true);
      await client.put(`${P}/policies/prod/deny`).value(policy('deny', 'prod', { podSelector: {} }));
      expect(await eventually(() => node.exec('nft', ['list', 'ruleset']).includes('tscni-policy'))).toBe(true);
      await ctl.stop(true);
      expect(node.exec('nft', ['list', 'ruleset'])).not.toContain('tscni-policy');
      expect(reach('client', 'web')).toBe(true);
    });
  },
);
