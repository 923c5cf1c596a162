/**
 * DEL when the pod's netns pin is lost, over ptp + firewall + portmap + bandwidth + tuning (the embedded bridge
 * chain is covered in crictl.test.ts): the harness in its own mount namespace is killed and restarted, so the pins
 * of its pods stay in the old mount namespace. With a pause of that run still alive the netns is reached through
 * it; with none, or with the pin files gone (a reboot), DEL runs with an empty CNI_NETNS. Either way leases, rules,
 * IFBs and backups are released.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode, missingForKernelTests, sh } from '@tscni/testing/node';
import { killPauses, pauseProcessesOf } from '@tscni/testing/harness-process';
import { expectNodeAsItWas, snapshot } from '@tscni/testing/node-state';
import { Crictl, Harness, crictlPresent, type HarnessDirs } from '@tscni/testing/real-crictl';

const missing = missingForKernelTests(['ip', 'nsenter', 'unshare', 'iptables-save', 'nft', 'tc']);

describe.skipIf(!!missing)(
  `lost netns pins over ptp, firewall, portmap, bandwidth, tuning (real crictl)${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let dirs: HarnessDirs;
    let harness: Harness | undefined;
    const crictl = () => new Crictl(dirs.socket);

    beforeAll(() => {
      node = new TestNode('crl');
      for (const d of ['run', 'state', 'net.d', 'cache', 'tuning']) mkdirSync(join(node.tmp, d), { recursive: true });
      dirs = {
        socket: join(node.tmp, 'run', 'cri.sock'),
        stateDir: join(node.tmp, 'state'),
        confDir: join(node.tmp, 'net.d'),
        cacheDir: join(node.tmp, 'cache'),
      };
      writeFileSync(
        join(dirs.confDir, '10-ptp.conflist'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name: 'lostptp',
          plugins: [
            {
              type: 'ptp',
              ipMasq: true,
              ipam: {
                type: 'host-local',
                ranges: [[{ subnet: '10.78.0.0/24' }]],
                dataDir: join(dirs.stateDir, 'ipam'),
              },
            },
            { type: 'firewall', backend: 'iptables' },
            { type: 'portmap', capabilities: { portMappings: true }, snat: true },
            { type: 'bandwidth', capabilities: { bandwidth: true } },
            { type: 'tuning', mtu: 1400, dataDir: join(node.tmp, 'tuning') },
          ],
        }),
      );
    });

    afterAll(async () => {
      await harness?.stop();
      if (dirs) killPauses(dirs.stateDir);
      node?.destroy();
    });

    const pod = (name: string, hostPort: number) =>
      JSON.stringify({
        metadata: { name, namespace: 'default', uid: `${name}-uid`, attempt: 0 },
        hostname: name,
        log_directory: '/tmp',
        port_mappings: [{ protocol: 0, container_port: 80, host_port: hostPort }],
        annotations: { 'kubernetes.io/ingress-bandwidth': '10M', 'kubernetes.io/egress-bandwidth': '10M' },
        linux: {},
      });

    for (const variant of [
      'a pause of the old run still lives',
      'no process of the old run is left',
      'the pin files are gone (as after a reboot)',
    ] as const) {
      it(`stop and remove after a restart when ${variant}: the node is as it was`, { timeout: 300_000 }, async () => {
        expect(crictlPresent(), 'crictl is missing at <repo>/../shared/tools/crictl').toBe(true);
        const stateDirs = [dirs.stateDir, dirs.cacheDir, join(node.tmp, 'tuning')];
        harness = await Harness.start(node, dirs);
        const before = snapshot(node, { stateDirs });
        const ids: string[] = [];
        const ips: string[] = [];
        const netns: string[] = [];
        for (const [i, name] of ['one', 'two'].entries()) {
          writeFileSync(join(node.tmp, `${name}.json`), pod(name, 9100 + i));
          const id = (await crictl().run(['runp', join(node.tmp, `${name}.json`)])).trim();
          const out = await crictl().json(['inspectp', id]);
          ids.push(id);
          ips.push(out.status.network.ip);
          netns.push(out.info.netns);
        }
        expect(ips.every((ip) => ip.startsWith('10.78.0.'))).toBe(true);
        await harness.kill9();
        if (variant !== 'a pause of the old run still lives')
          for (const pid of pauseProcessesOf(dirs.stateDir)) process.kill(pid, 'SIGKILL');
        if (variant === 'the pin files are gone (as after a reboot)') for (const n of netns) rmSync(n);
        harness = await Harness.start(node, dirs);
        for (const id of ids) {
          await crictl().run(['stopp', id]);
          await crictl().run(['rmp', id]);
        }
        const via =
          variant === 'a pause of the old run still lives'
            ? /"using":"\/proc\/\d+\/root\/run\/netns\/cni-/
            : /"using":"\(empty CNI_NETNS\)"/;
        expect(harness.stderr).toMatch(via);
        let after = snapshot(node, { stateDirs });
        for (let i = 0; i < 100 && after.links.join() !== before.links.join(); i++) {
          await new Promise((r) => setTimeout(r, 100));
          after = snapshot(node, { stateDirs });
        }
        expectNodeAsItWas(before, after, { ids, ips, netns });
        expect(sh('iptables-save', [], { netns: node.name })).not.toMatch(/--dport 910[01]/);
        await harness.stop();
        harness = undefined;
      });
    }
  },
);
