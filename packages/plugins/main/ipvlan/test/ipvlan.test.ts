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

const { missing, lacking: noIpvlan } = probeLinkKind('ipvlan', ['ip', 'nsenter', 'ping']);

for (const impl of implementations('ipvlan')) {
  describe.skipIf(!!missing || !impl.present)(`ipvlan (${impl.name})${missing ? ` — skipped: ${missing}` : ''}`, () => {
    let node: TestNode;
    let cniPath: string;
    let dataDir: string;
    let n = 0;
    beforeAll(() => {
      node = new TestNode('iv');
      node.exec('ip', ['link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1']);
      node.exec('ip', ['link', 'set', 'uplink0', 'up']);
      node.exec('ip', ['link', 'set', 'uplink1', 'up']);
      cniPath = binDir(node.tmp, { 'host-local': 'reference' });
      dataDir = join(node.tmp, 'ipam');
    });
    afterAll(() => node?.destroy());

    const conf = (extra: Record<string, unknown> = {}, version = '1.0.0') => ({
      cniVersion: version,
      name: 'ipvlnet',
      type: 'ipvlan',
      master: 'uplink0',
      ipam: { type: 'host-local', subnet: '10.82.0.0/24', dataDir },
      ...extra,
    });
    const env = (command: string, netns: string) => ({
      CNI_COMMAND: command,
      CNI_CONTAINERID: `ctr-iv-${n++}`,
      CNI_NETNS: netns,
      CNI_IFNAME: 'eth0',
      CNI_PATH: cniPath,
    });
    const leases = () => leasesIn(dataDir, 'ipvlnet');
    const podLink = (pod: string) => linksIn(pod).find((l) => l.ifname === 'eth0') as any;

    describe.skipIf(!noIpvlan)('on a kernel without ipvlan', () => {
      it('ADD fails, and leaves no link and no address behind', async () => {
        const pod = node.addPod();
        const add = await node.runPlugin(impl.bin, env('ADD', pod), conf());
        expect(add.code).toBe(1);
        expect(add.stdout + add.stderr).not.toMatch(/\n\s+at /);
        if (impl.name === 'tscni') expect(add.json.msg).toContain('kernel has no ipvlan support');
        expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
        expect(leases()).toEqual([]);
      });
    });

    describe.skipIf(!!noIpvlan)(`with ipvlan${noIpvlan ? ` — skipped: ${noIpvlan}` : ''}`, () => {
      for (const version of impl.versions.filter((v) => v >= '0.3.0' && v <= '1.0.0')) {
        it(`ADD, CHECK, DEL at ${version}`, async () => {
          const pod = node.addPod();
          const e = env('ADD', pod);
          const add = await node.runPlugin(impl.bin, e, conf({}, version));
          expect(add.code, add.stdout).toBe(0);
          expect(podLink(pod).linkinfo).toMatchObject({ info_kind: 'ipvlan', info_data: { mode: 'l2' } });
          expect(addrsIn(pod, 'eth0')).toEqual([add.json.ips[0].address]);
          const withPrev = { ...conf({}, version), prevResult: add.json };
          if (version >= '0.4.0')
            expect((await node.runPlugin(impl.bin, { ...e, CNI_COMMAND: 'CHECK' }, withPrev)).code).toBe(0);
          expect((await node.runPlugin(impl.bin, { ...e, CNI_COMMAND: 'DEL' }, withPrev)).code).toBe(0);
          expect(podLink(pod)).toBeUndefined();
          expect((await node.runPlugin(impl.bin, { ...e, CNI_COMMAND: 'DEL' }, withPrev)).code).toBe(0);
        });
      }

      it('two l2 pods on one master reach each other', async () => {
        const [a, b] = [node.addPod(), node.addPod()];
        const ra = await node.runPlugin(impl.bin, env('ADD', a), conf());
        const rb = await node.runPlugin(impl.bin, env('ADD', b), conf());
        expect(ra.code, ra.stdout).toBe(0);
        expect(rb.code, rb.stdout).toBe(0);
        expect(sh('ping', ['-c', '1', '-W', '2', rb.json.ips[0].address.split('/')[0]], { netns: a })).toContain(
          '1 received',
        );
      });

      it('l3 mode is set on the link', async () => {
        const pod = node.addPod();
        const add = await node.runPlugin(impl.bin, env('ADD', pod), conf({ mode: 'l3' }));
        expect(add.code, add.stdout).toBe(0);
        expect(podLink(pod).linkinfo.info_data.mode).toBe('l3');
      });
    });
  });
}
