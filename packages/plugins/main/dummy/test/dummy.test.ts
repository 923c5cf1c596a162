import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode, addrsIn, implementations, linksIn, probeLinkKind } from '@tscni/testing/node';

const { missing, lacking: noDummy } = probeLinkKind('dummy');

// Debian 1.1.1 has no dummy plugin: implementations() marks the reference absent and its suite skips.
for (const impl of implementations('dummy')) {
  describe.skipIf(!!missing || !impl.present)(`dummy (${impl.name})${missing ? ` — skipped: ${missing}` : ''}`, () => {
    let node: TestNode;
    let cniPath: string;
    let n = 0;
    beforeAll(() => {
      node = new TestNode('dm');
      cniPath = join(node.tmp, 'cni-bin');
      mkdirSync(cniPath);
      symlinkSync('/usr/lib/cni/static', join(cniPath, 'static'));
    });
    afterAll(() => node?.destroy());

    const conf = (version = '1.0.0') => ({
      cniVersion: version,
      name: 'dummynet',
      type: 'dummy',
      ipam: { type: 'static', addresses: [{ address: '10.84.0.5/24' }] },
    });
    const env = (command: string, netns: string) => ({
      CNI_COMMAND: command,
      CNI_CONTAINERID: `ctr-dm-${n++}`,
      CNI_NETNS: netns,
      CNI_IFNAME: 'dummy0',
      CNI_PATH: cniPath,
    });

    describe.skipIf(!noDummy)('on a kernel without dummy', () => {
      it('ADD fails naming the missing support and leaves no link', async () => {
        const pod = node.addPod();
        const add = await node.runPlugin(impl.bin, env('ADD', pod), conf());
        expect(add.code).toBe(1);
        expect(add.json.msg).toContain('kernel has no dummy support');
        expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
      });
    });

    describe.skipIf(!!noDummy)(`with dummy links${noDummy ? ` — skipped: ${noDummy}` : ''}`, () => {
      for (const version of impl.versions.filter((v) => v >= '0.3.0' && v <= '1.0.0')) {
        it(`ADD, CHECK, DEL at ${version}`, async () => {
          const pod = node.addPod();
          const e = env('ADD', pod);
          const add = await node.runPlugin(impl.bin, e, conf(version));
          expect(add.code, add.stdout).toBe(0);
          const link = linksIn(pod).find((l) => l.ifname === 'dummy0') as any;
          expect(link.linkinfo.info_kind).toBe('dummy');
          expect(addrsIn(pod, 'dummy0')).toEqual(['10.84.0.5/24']);
          const withPrev = { ...conf(version), prevResult: add.json };
          if (version >= '0.4.0')
            expect((await node.runPlugin(impl.bin, { ...e, CNI_COMMAND: 'CHECK' }, withPrev)).code).toBe(0);
          expect((await node.runPlugin(impl.bin, { ...e, CNI_COMMAND: 'DEL' }, withPrev)).code).toBe(0);
          expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
          expect((await node.runPlugin(impl.bin, { ...e, CNI_COMMAND: 'DEL' }, withPrev)).code).toBe(0);
        });
      }
    });
  });
}
