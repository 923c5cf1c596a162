import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CNIConfig, confListFromBytes, execInNetns } from '@tscni/libcni';
import { DIST_BIN, TestNode, missingForKernelTests, sh } from '@tscni/testing/node';
import { expectNodeAsItWas, snapshot } from '@tscni/testing/node-state';

const CHAIN = ['bridge', 'host-local', 'portmap', 'bandwidth', 'tuning', 'firewall'];
const absent = CHAIN.filter((p) => !existsSync(join(DIST_BIN, p)));
const missing =
  missingForKernelTests(['ip', 'nsenter', 'iptables-save', 'nft', 'tc']) ??
  (absent.length ? `needs ${absent.join(', ')}` : undefined);

/** Issue 5's chain, all ours, through libcni: bridge → portmap → bandwidth → tuning → firewall, with both rule backends. */
for (const backend of ['iptables', 'nftables'] as const) {
  describe.skipIf(!!missing)(`the full meta chain (${backend})${missing ? ` — skipped: ${missing}` : ''}`, () => {
    let node: TestNode;
    beforeAll(() => {
      node = new TestNode('fc');
    });
    afterAll(() => node?.destroy());

    it('ADDs, CHECKs and DELs cleanly, leaving no rule, qdisc, IFB or backup file', async () => {
      const dirs = { ipam: join(node.tmp, 'ipam'), tuning: join(node.tmp, 'tuning'), cache: join(node.tmp, 'cache') };
      const list = confListFromBytes(
        JSON.stringify({
          cniVersion: '1.1.0',
          name: 'fullchain',
          plugins: [
            {
              type: 'bridge',
              bridge: 'fcbr0',
              isGateway: true,
              ipMasq: true,
              ipMasqBackend: backend,
              hairpinMode: true,
              ipam: { type: 'host-local', subnet: '10.68.0.0/24', dataDir: dirs.ipam },
            },
            { type: 'portmap', backend, capabilities: { portMappings: true }, snat: true },
            { type: 'bandwidth', capabilities: { bandwidth: true } },
            {
              type: 'tuning',
              mtu: 1400,
              promisc: true,
              sysctl: { 'net.ipv4.conf.IFNAME.arp_ignore': '1' },
              dataDir: dirs.tuning,
            },
            { type: 'firewall', backend, ingressPolicy: 'same-bridge' },
          ],
        }),
      );
      const cni = new CNIConfig({ binDirs: [DIST_BIN], cacheDir: dirs.cache, exec: execInNetns(node.path) });
      const stateDirs = [dirs.ipam, dirs.tuning, dirs.cache];
      const before = snapshot(node, { stateDirs });
      const pod = node.addPod();
      const rt = {
        containerID: 'full-chain-1',
        netNS: pod,
        ifName: 'eth0',
        capabilityArgs: {
          portMappings: [{ hostPort: 18443, containerPort: 443, protocol: 'tcp' }],
          bandwidth: { ingressRate: 50e6, ingressBurst: 5e6, egressRate: 50e6, egressBurst: 5e6 },
        },
      };
      const result = (await cni.addNetworkList(list, rt)) as {
        ips: { address: string }[];
        interfaces: { name: string }[];
      };
      const ip = result.ips[0].address.split('/')[0];
      expect(result.interfaces.map((i) => i.name)).toContain('eth0');
      expect(result.interfaces.some((i) => i.name.startsWith('bwp'))).toBe(true);
      const rules =
        sh('iptables-save', [], { netns: node.name }) + sh('nft', ['list', 'ruleset'], { netns: node.name });
      expect(rules).toContain('18443');
      expect(rules).toContain(ip);
      expect(sh('ip', ['-j', 'link', 'show', 'eth0'], { netns: pod })).toContain('"mtu":1400');
      expect(readdirSync(dirs.tuning)).toEqual(['full-chain-1_eth0.json']);

      await cni.checkNetworkList(list, rt);

      await cni.delNetworkList(list, rt);
      expectNodeAsItWas(before, snapshot(node, { stateDirs }), { ids: [rt.containerID], ips: [ip], netns: [] });
      // A second DEL (the runtime retries) is a no-op that succeeds.
      await cni.delNetworkList(list, rt);
    });
  });
}
