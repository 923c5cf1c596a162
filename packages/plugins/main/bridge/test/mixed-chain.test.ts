// Mixed chains: our bridge delegating to the reference host-local, and the reference bridge to ours.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  binDir,
  hostVeths,
  leases,
  missingForKernelTests,
  pings,
  podLink,
  referenceAvailable,
  rulesOf,
  TestNode,
  uniqueName,
  type PluginRun,
} from '@tscni/testing/node';

const missing = missingForKernelTests(['ip', 'nsenter', 'iptables-save', 'ping']);
const refMissing = !referenceAvailable('bridge') || !referenceAvailable('host-local');

describe.skipIf(!!missing || refMissing)(`mixed chains${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  beforeAll(() => {
    node = new TestNode('brm');
  });
  afterAll(() => node?.destroy());
  const ok = (r: PluginRun) => expect(r.code, r.stdout + r.stderr).toBe(0);

  const combos = [
    { bridge: 'ours', ipam: 'reference' },
    { bridge: 'reference', ipam: 'ours' },
  ] as const;
  combos.forEach((combo, i) => {
    it(`${combo.bridge} bridge + ${combo.ipam} host-local: ADD (dual stack, masquerade), ping, CHECK, DEL leaves nothing`, async () => {
      const dir = binDir(node.tmp, { bridge: combo.bridge, 'host-local': combo.ipam });
      const dataDir = join(node.tmp, `ipam${i}`);
      const conf = {
        cniVersion: '1.0.0',
        name: `mixed${i}`,
        type: 'bridge',
        bridge: uniqueName('b'),
        isGateway: true,
        ipMasq: true,
        ipam: {
          type: 'host-local',
          dataDir,
          ranges: [[{ subnet: `10.62.${i}.0/24` }], [{ subnet: `fd62:${i + 1}::/64` }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      };
      const bin = join(dir, 'bridge');
      const env = (command: string, netns: string, cid: string) => ({
        CNI_COMMAND: command,
        CNI_CONTAINERID: cid,
        CNI_NETNS: netns,
        CNI_IFNAME: 'eth0',
        CNI_PATH: dir,
      });
      const vethsBefore = hostVeths(node);
      const pods = [node.addPod(), node.addPod()];
      const ids = [uniqueName('c'), uniqueName('c')];
      const adds = [];
      for (let p = 0; p < 2; p++) {
        const add = await node.runPlugin(bin, env('ADD', pods[p], ids[p]), conf);
        ok(add);
        adds.push(add.json);
      }
      expect(adds[1].ips.map((ip: any) => ip.address)).toEqual([`10.62.${i}.3/24`, `fd62:${i + 1}::3/64`]);
      expect(adds[1].routes).toEqual([{ dst: '0.0.0.0/0' }]);
      expect(pings(pods[0], `10.62.${i}.3`)).toBe(true);
      expect(pings(pods[0], `fd62:${i + 1}::3`, 4)).toBe(true);
      expect(rulesOf(node, ids[0], 4)).toHaveLength(3);
      expect(rulesOf(node, ids[0], 6)).toHaveLength(3);
      ok(await node.runPlugin(bin, env('CHECK', pods[0], ids[0]), { ...conf, prevResult: adds[0] }));
      for (let p = 0; p < 2; p++)
        ok(await node.runPlugin(bin, env('DEL', pods[p], ids[p]), { ...conf, prevResult: adds[p] }));
      expect(leases(dataDir, conf.name)).toEqual([]);
      expect(hostVeths(node)).toEqual(vethsBefore);
      expect(podLink(pods[0])).toBeUndefined();
      for (const id of ids) expect([...rulesOf(node, id, 4), ...rulesOf(node, id, 6)]).toEqual([]);
    });
  });
});
