import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode, implementations, linksIn, addrsIn, missingForKernelTests, sh, binDir } from '@tscni/testing/node';

const missing = missingForKernelTests(['ip', 'nsenter', 'ping']);

for (const impl of implementations('macvlan')) {
  describe.skipIf(!!missing || !impl.present)(
    `macvlan (${impl.name})${missing ? ` — skipped: ${missing}` : ''}`,
    () => {
      let node: TestNode;
      let cniPath: string;
      let dataDir: string;
      let n = 0;
      beforeAll(() => {
        node = new TestNode('mv');
        // The master: one end of a veth pair inside the node netns, both ends up so it has carrier.
        node.exec('ip', ['link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1']);
        node.exec('ip', ['link', 'set', 'uplink0', 'up']);
        node.exec('ip', ['link', 'set', 'uplink1', 'up']);
        node.exec('ip', ['addr', 'add', '192.168.200.1/24', 'dev', 'uplink0']);
        node.exec('ip', ['route', 'add', 'default', 'via', '192.168.200.254', 'dev', 'uplink0']);
        // IPAM: Debian's host-local (ours lands separately), state under the node's tmp dir.
        cniPath = binDir(node.tmp, { 'host-local': 'reference' });
        dataDir = join(node.tmp, 'ipam');
      });
      afterAll(() => node?.destroy());

      const conf = (extra: Record<string, unknown> = {}, version = '1.0.0') => ({
        cniVersion: version,
        name: 'mvnet',
        type: 'macvlan',
        master: 'uplink0',
        ipam: {
          type: 'host-local',
          subnet: '10.77.0.0/24',
          dataDir,
          routes: [{ dst: '10.78.0.0/16', gw: '10.77.0.1' }],
        },
        ...extra,
      });
      const env = (command: string, netns: string, extra: Record<string, string> = {}) => ({
        CNI_COMMAND: command,
        CNI_CONTAINERID: `ctr-mv-${n++}`,
        CNI_NETNS: netns,
        CNI_IFNAME: 'eth0',
        CNI_PATH: cniPath,
        ...extra,
      });
      const leases = () => readdirSync(join(dataDir, 'mvnet')).filter((f) => /^\d/.test(f));
      const podLink = (pod: string, name = 'eth0') => linksIn(pod).find((l) => l.ifname === name) as any;

      for (const version of impl.versions.filter((v) => v >= '0.3.0')) {
        // Debian's host-local (the IPAM here) speaks up to 1.0.0: at 1.1.0 the attachment is L2-only.
        const l2only = version > '1.0.0';
        it(`ADD, CHECK, DEL at ${version}${l2only ? ' (L2 only)' : ''}`, async () => {
          const pod = node.addPod();
          const e = env('ADD', pod);
          const add = await node.runPlugin(impl.bin, e, conf(l2only ? { ipam: {} } : {}, version));
          expect(add.code, add.stdout).toBe(0);
          expect(add.json.cniVersion).toBe(version);
          const link = podLink(pod);
          expect(link.linkinfo.info_kind).toBe('macvlan');
          expect(link.linkinfo.info_data.mode).toBe('bridge');
          expect(add.json.interfaces).toEqual([{ name: 'eth0', mac: link.address, sandbox: pod }]);
          expect(sh('sysctl', ['-n', 'net.ipv4.conf.eth0.arp_notify'], { netns: pod }).trim()).toBe('1');
          if (!l2only) {
            expect(add.json.ips).toHaveLength(1);
            expect(add.json.ips[0]).toMatchObject({ gateway: '10.77.0.1', interface: 0 });
            expect(addrsIn(pod, 'eth0')).toEqual([add.json.ips[0].address]);
            expect(sh('ip', ['route', 'show', '10.78.0.0/16'], { netns: pod })).toContain('via 10.77.0.1 dev eth0');
          }

          const withPrev = { ...conf(l2only ? { ipam: {} } : {}, version), prevResult: add.json };
          if (version >= '0.4.0') {
            const check = await node.runPlugin(impl.bin, { ...e, CNI_COMMAND: 'CHECK' }, withPrev);
            expect(check.code, check.stdout).toBe(0);
          }
          const del = await node.runPlugin(impl.bin, { ...e, CNI_COMMAND: 'DEL' }, withPrev);
          expect(del.code, del.stdout).toBe(0);
          expect(podLink(pod)).toBeUndefined();
          const again = await node.runPlugin(impl.bin, { ...e, CNI_COMMAND: 'DEL' }, withPrev);
          expect(again.code, again.stdout).toBe(0);
        });
      }

      it('two bridge-mode pods on one master reach each other', async () => {
        const [a, b] = [node.addPod(), node.addPod()];
        const ra = await node.runPlugin(impl.bin, env('ADD', a), conf());
        const rb = await node.runPlugin(impl.bin, env('ADD', b), conf());
        expect(ra.code, ra.stdout).toBe(0);
        expect(rb.code, rb.stdout).toBe(0);
        const ipB = rb.json.ips[0].address.split('/')[0];
        expect(sh('ping', ['-c', '1', '-W', '2', ipB], { netns: a })).toContain('1 received');
      });

      it('private-mode pods on one master cannot reach each other', async () => {
        const [a, b] = [node.addPod(), node.addPod()];
        const ra = await node.runPlugin(impl.bin, env('ADD', a), conf({ mode: 'private' }));
        const rb = await node.runPlugin(impl.bin, env('ADD', b), conf({ mode: 'private' }));
        expect(ra.code, ra.stdout).toBe(0);
        expect(rb.code, rb.stdout).toBe(0);
        expect(podLink(a).linkinfo.info_data.mode).toBe('private');
        const ipB = rb.json.ips[0].address.split('/')[0];
        expect(sh('ping', ['-c', '1', '-W', '1', ipB], { netns: a, allowFail: true })).not.toContain('1 received');
      });

      it('mtu and mac from the config', async () => {
        const pod = node.addPod();
        const add = await node.runPlugin(impl.bin, env('ADD', pod), conf({ mtu: 1400, mac: '02:42:ac:11:00:07' }));
        expect(add.code, add.stdout).toBe(0);
        expect(podLink(pod)).toMatchObject({ mtu: 1400, address: '02:42:ac:11:00:07' });
        expect(add.json.interfaces[0].mac).toBe('02:42:ac:11:00:07');
      });

      it("an mtu above the master's fails and leaves nothing behind", async () => {
        const pod = node.addPod();
        const before = leases().length;
        const add = await node.runPlugin(impl.bin, env('ADD', pod), conf({ mtu: 9000 }));
        expect(add.code).toBe(1);
        expect(add.json.msg).toMatch(/MTU/);
        expect(add.stdout + add.stderr).not.toMatch(/\n\s+at /);
        expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);
        expect(leases().length).toBe(before);
      });

      it('without master the default-route interface is used', async () => {
        const pod = node.addPod();
        const { master: _m, ...noMaster } = conf();
        const add = await node.runPlugin(impl.bin, env('ADD', pod), noMaster);
        expect(add.code, add.stdout).toBe(0);
        expect(podLink(pod).linkinfo.info_kind).toBe('macvlan');
      });

      it('an empty ipam gives an L2-only interface that is up', async () => {
        const pod = node.addPod();
        const add = await node.runPlugin(impl.bin, env('ADD', pod), conf({ ipam: {} }));
        expect(add.code, add.stdout).toBe(0);
        expect(add.json.ips ?? []).toEqual([]);
        expect(podLink(pod).flags).toContain('UP');
        expect(addrsIn(pod, 'eth0')).toEqual([]);
      });

      it('a failed ADD (CNI_IFNAME taken) rolls back the link and the address', async () => {
        const pod = node.addPod();
        sh('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0'], { netns: pod });
        const before = leases().length;
        const add = await node.runPlugin(impl.bin, env('ADD', pod), conf());
        expect(add.code).toBe(1);
        expect(
          linksIn(pod)
            .map((l) => l.ifname)
            .sort(),
        ).toEqual(['eth0', 'lo', 'other0']);
        expect(podLink(pod).linkinfo.info_kind).toBe('veth');
        expect(leases().length).toBe(before);
      });

      it('DEL releases the address when the netns is already gone', async () => {
        const pod = node.addPod();
        const e = env('ADD', pod);
        const add = await node.runPlugin(impl.bin, e, conf());
        expect(add.code, add.stdout).toBe(0);
        const before = leases().length;
        sh('ip', ['netns', 'delete', pod.split('/').pop()!]);
        const del = await node.runPlugin(impl.bin, { ...e, CNI_COMMAND: 'DEL' }, conf());
        expect(del.code, del.stdout).toBe(0);
        expect(leases().length).toBe(before - 1);
      });

      it('CHECK fails when the interface is gone', async () => {
        const pod = node.addPod();
        const e = env('ADD', pod);
        const add = await node.runPlugin(impl.bin, e, conf());
        sh('ip', ['link', 'del', 'eth0'], { netns: pod });
        const check = await node.runPlugin(
          impl.bin,
          { ...e, CNI_COMMAND: 'CHECK' },
          { ...conf(), prevResult: add.json },
        );
        expect(check.code).toBe(1);
      });

      it('CHECK fails when the link is not in the configured mode', async () => {
        const pod = node.addPod();
        const e = env('ADD', pod);
        const add = await node.runPlugin(impl.bin, e, conf());
        expect(add.code, add.stdout).toBe(0);
        const check = await node.runPlugin(
          impl.bin,
          { ...e, CNI_COMMAND: 'CHECK' },
          { ...conf({ mode: 'vepa' }), prevResult: add.json },
        );
        expect(check.code).toBe(1);
        expect(check.json.msg).toMatch(/mode/);
      });

      if (impl.name === 'tscni') {
        it('MAC from runtimeConfig beats CNI_ARGS MAC, which beats the config', async () => {
          const [a, b] = [node.addPod(), node.addPod()];
          const args = { CNI_ARGS: 'IgnoreUnknown=1;MAC=02:00:00:00:00:0b' };
          const ra = await node.runPlugin(impl.bin, env('ADD', a, args), conf({ mac: '02:00:00:00:00:0a' }));
          const rb = await node.runPlugin(
            impl.bin,
            env('ADD', b, args),
            conf({ mac: '02:00:00:00:00:0a', runtimeConfig: { mac: '02:00:00:00:00:0c' } }),
          );
          expect(ra.code, ra.stdout).toBe(0);
          expect(rb.code, rb.stdout).toBe(0);
          expect(podLink(a).address).toBe('02:00:00:00:00:0b');
          expect(podLink(b).address).toBe('02:00:00:00:00:0c');
        });

        it('linkInContainer creates the macvlan on a master inside the pod', async () => {
          const pod = node.addPod();
          sh('ip', ['link', 'add', 'inner0', 'type', 'veth', 'peer', 'name', 'inner1'], { netns: pod });
          const add = await node.runPlugin(
            impl.bin,
            env('ADD', pod),
            conf({ master: 'inner0', linkInContainer: true, bcqueuelen: 200 }),
          );
          expect(add.code, add.stdout).toBe(0);
          const link = podLink(pod);
          expect(link.link).toBe('inner0');
          expect(link.linkinfo.info_data.bcqueuelen).toBe(200);
        });

        it('config errors are code 7 naming the field', async () => {
          const pod = node.addPod();
          for (const [extra, field] of [
            [{ mode: 'loud' }, 'mode'],
            [{ master: 'a b' }, 'master'],
            [{ mac: 'zz' }, 'mac'],
            [{ master: 'nosuchlink' }, 'master'],
          ] as const) {
            const r = await node.runPlugin(impl.bin, env('ADD', pod), conf(extra));
            expect(r.json?.code, r.stdout).toBe(7);
            expect(r.json.msg).toContain(field);
          }
        });

        it('STATUS and GC forward to IPAM; without IPAM they succeed', async () => {
          const status = await node.runPlugin(
            impl.bin,
            { CNI_COMMAND: 'STATUS', CNI_PATH: cniPath },
            conf({ ipam: {} }, '1.1.0'),
          );
          expect(status.code, status.stdout).toBe(0);
          const gc = await node.runPlugin(
            impl.bin,
            { CNI_COMMAND: 'GC', CNI_PATH: cniPath },
            conf({ ipam: {} }, '1.1.0'),
          );
          expect(gc.code, gc.stdout).toBe(0);
          const forwarded = await node.runPlugin(
            impl.bin,
            { CNI_COMMAND: 'STATUS', CNI_PATH: cniPath },
            conf({ ipam: { type: 'no-such-ipam' } }, '1.1.0'),
          );
          expect(forwarded.code).toBe(1);
          expect(forwarded.json.msg).toContain('no-such-ipam');
        });
      }
    },
  );
}
