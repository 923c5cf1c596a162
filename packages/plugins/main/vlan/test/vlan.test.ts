import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TestNode,
  addrsIn,
  binDir,
  implementations,
  leases as leasesIn,
  linksIn,
  probeLinkKind,
  sh,
} from '@tscni/testing/node';

const { missing, lacking: no8021q } = probeLinkKind('vlan', ['ip', 'nsenter', 'ping']);

for (const impl of implementations('vlan')) {
  describe.skipIf(!!missing || !impl.present)(`vlan (${impl.name})${missing ? ` — skipped: ${missing}` : ''}`, () => {
    let node: TestNode;
    let cniPath: string;
    let dataDir: string;
    let peer: string;
    let n = 0;
    beforeAll(() => {
      node = new TestNode('vl');
      // The trunk: trunk0 in the node is the master; trunk1 sits in a peer netns that carries VLAN 100.
      peer = node.addPod('peer');
      node.exec('ip', ['link', 'add', 'trunk0', 'type', 'veth', 'peer', 'name', 'trunk1', 'netns', peer]);
      node.exec('ip', ['link', 'set', 'trunk0', 'up']);
      sh('ip', ['link', 'set', 'trunk1', 'up'], { netns: peer });
      if (!no8021q) {
        sh('ip', ['link', 'add', 'link', 'trunk1', 'name', 'trunk1.100', 'type', 'vlan', 'id', '100'], { netns: peer });
        sh('ip', ['addr', 'add', '10.81.0.1/24', 'dev', 'trunk1.100'], { netns: peer });
        sh('ip', ['link', 'set', 'trunk1.100', 'up'], { netns: peer });
      }
      cniPath = binDir(node.tmp, { 'host-local': 'reference' });
      dataDir = join(node.tmp, 'ipam');
    });
    afterAll(() => node?.destroy());

    const conf = (extra: Record<string, unknown> = {}, version = '1.0.0') => ({
      cniVersion: version,
      name: 'vlannet',
      type: 'vlan',
      master: 'trunk0',
      vlanId: 100,
      ipam: { type: 'host-local', subnet: '10.81.0.0/24', rangeStart: '10.81.0.10', dataDir },
      ...extra,
    });
    const env = (command: string, netns: string) => ({
      CNI_COMMAND: command,
      CNI_CONTAINERID: `ctr-vl-${n++}`,
      CNI_NETNS: netns,
      CNI_IFNAME: 'eth0',
      CNI_PATH: cniPath,
    });
    const leases = () => leasesIn(dataDir, 'vlannet');
    const podLink = (pod: string) => linksIn(pod).find((l) => l.ifname === 'eth0') as any;

    describe.skipIf(!no8021q)(`on a kernel without 8021q`, () => {
      it('ADD fails, and leaves no link and no address behind', async () => {
        const pod = node.addPod();
        const add = await node.runPlugin(impl.bin, env('ADD', pod), conf());
        expect(add.code).toBe(1);
        expect(add.stdout + add.stderr).not.toMatch(/\n\s+at /);
        if (impl.name === 'tscni') expect(add.json.msg).toContain('kernel has no vlan support');
        expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
        expect(leases()).toEqual([]);
      });
    });

    describe.skipIf(!!no8021q)(`with 802.1Q${no8021q ? ` — skipped: ${no8021q}` : ''}`, () => {
      for (const version of impl.versions.filter((v) => v >= '0.3.0' && v <= '1.0.0')) {
        it(`ADD, CHECK, DEL at ${version}`, async () => {
          const pod = node.addPod();
          const e = env('ADD', pod);
          const add = await node.runPlugin(impl.bin, e, conf({}, version));
          expect(add.code, add.stdout).toBe(0);
          const link = podLink(pod);
          expect(link.linkinfo).toMatchObject({ info_kind: 'vlan', info_data: { id: 100 } });
          expect(add.json.interfaces).toEqual([{ name: 'eth0', mac: link.address, sandbox: pod }]);
          expect(addrsIn(pod, 'eth0')).toEqual([add.json.ips[0].address]);
          const withPrev = { ...conf({}, version), prevResult: add.json };
          if (version >= '0.4.0')
            expect((await node.runPlugin(impl.bin, { ...e, CNI_COMMAND: 'CHECK' }, withPrev)).code).toBe(0);
          const del = await node.runPlugin(impl.bin, { ...e, CNI_COMMAND: 'DEL' }, withPrev);
          expect(del.code, del.stdout).toBe(0);
          expect(podLink(pod)).toBeUndefined();
          expect((await node.runPlugin(impl.bin, { ...e, CNI_COMMAND: 'DEL' }, withPrev)).code).toBe(0);
        });
      }

      it('a pod on VLAN 100 reaches the peer on the same VLAN', async () => {
        const pod = node.addPod();
        const add = await node.runPlugin(impl.bin, env('ADD', pod), conf());
        expect(add.code, add.stdout).toBe(0);
        expect(sh('ping', ['-c', '1', '-W', '2', '10.81.0.1'], { netns: pod })).toContain('1 received');
      });

      it("an mtu above the master's fails and leaves nothing", async () => {
        const pod = node.addPod();
        const before = leases().length;
        const add = await node.runPlugin(impl.bin, env('ADD', pod), conf({ mtu: 9000 }));
        expect(add.code).toBe(1);
        expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
        expect(leases().length).toBe(before);
      });
    });
  });
}
