import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIST_BIN,
  REFERENCE_BIN,
  missingForKernelTests,
  pings,
  sh,
  startTcpServer,
  tcpRequest,
} from '@tscni/testing/node';
import { expectNodeAsItWas } from '@tscni/testing/node-state';
import { podJson, startPodNode, type PluginChoice, type PodNode } from '@tscni/testing/cluster';

const CHAIN = ['bridge', 'host-local', 'portmap', 'bandwidth', 'tuning', 'firewall', 'loopback'] as const;
const all = (which: 'ours' | 'reference'): PluginChoice => Object.fromEntries(CHAIN.map((p) => [p, which]));
/** The same lifecycle with our plugins, the reference ones, and chains that mix both. */
const SETS: { name: string; choice: PluginChoice }[] = [
  { name: 'tscni', choice: all('ours') },
  { name: 'reference', choice: all('reference') },
  {
    name: 'mixed: our bridge, reference IPAM and meta plugins',
    choice: { ...all('reference'), bridge: 'ours', loopback: 'ours' },
  },
  { name: 'mixed: reference bridge, our IPAM and meta plugins', choice: { ...all('ours'), bridge: 'reference' } },
];

const missingKernel = missingForKernelTests(['ip', 'nsenter', 'unshare', 'iptables-save', 'nft', 'tc', 'iperf3']);
const conflist = (dirs: PodNode['dirs']) => {
  writeFileSync(join(dirs.rec, 'resolv.conf'), 'nameserver 10.66.0.53\nsearch cluster.local\n');
  return {
    cniVersion: '1.0.0',
    name: 'e2enet',
    plugins: [
      {
        type: 'bridge',
        bridge: 'e2ebr0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: '10.66.0.0/24' }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: dirs.ipam,
          resolvConf: join(dirs.rec, 'resolv.conf'),
        },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      { type: 'bandwidth', capabilities: { bandwidth: true } },
      { type: 'tuning', sysctl: { 'net.ipv4.conf.IFNAME.arp_ignore': '1' }, dataDir: dirs.tuning },
      { type: 'firewall' },
      { type: 'recorder', recordDir: dirs.rec, capabilities: { dns: true } },
    ],
  };
};
const GATEWAY = '10.66.0.1';

for (const set of SETS) {
  const absent = Object.entries(set.choice)
    .filter(([p, w]) => !existsSync(join(w === 'ours' ? DIST_BIN : REFERENCE_BIN, p)))
    .map(([p]) => p);
  const missing = missingKernel ?? (absent.length ? `needs ${absent.join(', ')}` : undefined);

  describe.skipIf(!!missing)(
    `pod lifecycle through the CRI harness — ${set.name}${missing ? ` — skipped: ${missing}` : ''}`,
    () => {
      let pn: PodNode;
      const ids: string[] = [];
      const ips: string[] = [];
      beforeAll(async () => {
        pn = await startPodNode('lc', set.choice, conflist);
      });
      afterAll(async () => pn?.teardown());

      const runPod = async (name: string, extra: Record<string, unknown> = {}) => {
        const id = await pn.crictl.runp(podJson(name, extra));
        const { status, info } = await pn.crictl.inspectp(id);
        ids.push(id);
        ips.push(status.network.ip);
        pn.podNetns.push(info.netns);
        return { id, ip: status.network.ip as string, netns: info.netns as string, result: info.cniResult };
      };

      it('several pods: unique IPs, pod ↔ pod and pod → gateway traffic, a hostPort from everywhere, tuning, DNS', async () => {
        const web = await runPod('web', {
          port_mappings: [{ protocol: 0, container_port: 80, host_port: 18080, host_ip: '' }],
        });
        const [a, b] = await Promise.all([runPod('client-a'), runPod('client-b')]);
        expect(new Set([web.ip, a.ip, b.ip]).size).toBe(3);
        for (const p of [web, a, b]) expect(p.ip).toMatch(/^10\.66\.0\.\d+$/);

        expect(pings(a.netns, b.ip)).toBe(true);
        expect(pings(b.netns, web.ip)).toBe(true);
        expect(pings(a.netns, GATEWAY)).toBe(true);

        const server = await startTcpServer(web.netns, 80, 'web');
        try {
          expect(tcpRequest(pn.node.path, GATEWAY, 18080)).toMatch(/^web /); // node → hostPort
          expect(tcpRequest(pn.node.path, '127.0.0.1', 18080)).toMatch(/^web /); // node → localhost:hostPort
          expect(tcpRequest(a.netns, GATEWAY, 18080)).toMatch(/^web /); // another pod → hostPort
          expect(tcpRequest(web.netns, GATEWAY, 18080)).toMatch(/^web /); // hairpin
          expect(tcpRequest(a.netns, web.ip, 80)).toBe(`web ${a.ip}`); // pod → pod, no NAT
        } finally {
          server.close();
        }

        expect(sh('sysctl', ['-n', 'net.ipv4.conf.eth0.arp_ignore'], { netns: web.netns }).trim()).toBe('1');
        // The reference bridge replaces IPAM's DNS with its own (empty) config; ours passes it through.
        if (set.choice.bridge === 'ours')
          expect(web.result.dns).toMatchObject({ nameservers: ['10.66.0.53'], search: ['cluster.local'] });
        const rec = readFileSync(join(pn.dirs.rec, 'calls.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        const add = rec.find((c) => c.command === 'ADD' && c.env.CNI_CONTAINERID === web.id);
        expect(add.conf.runtimeConfig.dns).toEqual({
          servers: ['10.96.0.10'],
          searches: ['e2e.svc.cluster.local'],
          options: ['ndots:5'],
        });
        expect(add.conf.prevResult.ips[0].address).toBe(`${web.ip}/24`);
      });

      it('bandwidth annotations are enforced: the TBF on the host veth, and iperf3 between two pods', async () => {
        const server = await runPod('iperf-server', { annotations: { 'kubernetes.io/ingress-bandwidth': '20M' } });
        const client = await runPod('iperf-client');
        const tbf = (
          JSON.parse(sh('tc', ['-j', 'qdisc', 'show'], { netns: pn.node.name })) as {
            kind: string;
            options?: { rate?: number };
          }[]
        ).filter((q) => q.kind === 'tbf');
        expect(tbf.map((q) => q.options?.rate)).toContain(20e6 / 8);
        if (set.name !== 'tscni') return; // one measurement is enough; the shaping itself is the plugin's suite's business
        sh('nsenter', [`--net=${server.netns}`, '--', 'iperf3', '-s', '-1', '-D', '-p', '5201']);
        await new Promise((r) => setTimeout(r, 300));
        // Kubernetes' bandwidth annotations come with the maximal burst (4 Gbit): omit the seconds that drain it.
        const out = JSON.parse(
          sh('nsenter', [
            `--net=${client.netns}`,
            '--',
            'iperf3',
            '-c',
            server.ip,
            '-p',
            '5201',
            '-O',
            '6',
            '-t',
            '3',
            '-J',
          ]),
        );
        const bps = out.end.sum_received.bits_per_second as number;
        expect(bps).toBeGreaterThan(20e6 * 0.85);
        expect(bps).toBeLessThan(20e6 * 1.1);
      });

      it('stop and remove leave the node as it was', async () => {
        for (const id of ids) await pn.crictl.stopp(id);
        for (const id of ids) await pn.crictl.rmp(id);
        expect(await pn.crictl.pods()).toEqual([]);
        expectNodeAsItWas(pn.before, pn.state(), { ids, ips, netns: pn.podNetns });
      });
    },
  );
}
