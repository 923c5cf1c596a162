import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, TestNode, implementations, missingForKernelTests, sh, uniqueName } from '@tscni/testing/node';

const missing = missingForKernelTests(['ip', 'nsenter', 'sysctl']);
const impls = implementations('tuning');
const [ours, reference] = impls;

interface Pod {
  cid: string;
  pod: string;
  ifName: string;
  prevResult: any;
}

describe.skipIf(!!missing)(`tuning${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  let dataDir: string;
  beforeAll(() => {
    node = new TestNode('tu');
    dataDir = join(node.tmp, 'tuning');
  });
  afterAll(() => node?.destroy());

  /** A pod with a veth (`ifName` inside, a random name in the node) and the prevResult a main plugin would return. */
  function addPod(ifName = 'eth0'): Pod {
    const pod = node.addPod();
    const host = uniqueName('h');
    node.exec('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', ifName, 'netns', pod.split('/').pop()!]);
    const mac = link(pod, ifName).address;
    const prevResult = {
      cniVersion: '1.0.0',
      interfaces: [{ name: host }, { name: ifName, mac, sandbox: pod }],
      ips: [{ address: '10.1.0.2/24', interface: 1 }],
    };
    return { cid: uniqueName('c'), pod, ifName, prevResult };
  }
  const link = (pod: string, ifName: string): any =>
    JSON.parse(sh('ip', ['-j', '-d', 'link', 'show', 'dev', ifName], { netns: pod, allowFail: true }) || '[]')[0];
  const sysctl = (pod: string, key: string): string => sh('sysctl', ['-n', key], { netns: pod }).trim();
  const conf = (p: Pod, fields: Record<string, unknown>) => ({
    cniVersion: '1.0.0',
    name: 'tn',
    type: 'tuning',
    dataDir,
    prevResult: p.prevResult,
    ...fields,
  });
  const env = (command: string, p: Pod, extra: Record<string, string> = {}) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: p.cid,
    CNI_NETNS: p.pod,
    CNI_IFNAME: p.ifName,
    CNI_PATH: DIST_BIN,
    ...extra,
  });
  const backupFile = (p: Pod) => join(dataDir, `${p.cid}_${p.ifName}.json`);
  const attrs = (p: Pod) => {
    const l = link(p.pod, p.ifName);
    return {
      mac: l.address,
      mtu: l.mtu,
      promisc: l.flags.includes('PROMISC'),
      allmulti: l.flags.includes('ALLMULTI'),
      txqlen: l.txqlen,
    };
  };

  for (const impl of impls) {
    describe.skipIf(!impl.present)(impl.name, () => {
      const run = (command: string, p: Pod, config: unknown, extra: Record<string, string> = {}) =>
        node.runPlugin(impl.bin, env(command, p, extra), config);

      it('ADD sets sysctls (IFNAME substituted) and link attributes, backs up the originals; DEL restores them and removes the backup', async () => {
        const p = addPod();
        const before = attrs(p);
        const fields = {
          sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1', 'net.ipv4.ping_group_range': '0 1000' },
          mac: 'c2:11:22:33:44:55',
          mtu: 1400,
          promisc: true,
          allmulti: true,
        };
        const add = await run('ADD', p, conf(p, fields));
        expect(add.code, add.stdout).toBe(0);
        expect(add.json.interfaces[1]).toEqual({ name: p.ifName, mac: 'c2:11:22:33:44:55', sandbox: p.pod });
        expect(add.json.interfaces[0]).toEqual(p.prevResult.interfaces[0]);
        expect(sysctl(p.pod, `net.ipv4.conf.${p.ifName}.arp_filter`)).toBe('1');
        expect(sysctl(p.pod, 'net.ipv4.ping_group_range')).toMatch(/^0\s+1000$/);
        expect(attrs(p)).toEqual({ ...before, mac: 'c2:11:22:33:44:55', mtu: 1400, promisc: true, allmulti: true });
        expect(JSON.parse(readFileSync(backupFile(p), 'utf8'))).toEqual({
          mac: before.mac,
          promisc: false,
          mtu: before.mtu,
          allmulti: false,
        });

        const del = await run('DEL', p, conf(p, fields));
        expect(del.code, del.stdout).toBe(0);
        expect(attrs(p)).toEqual(before);
        expect(existsSync(backupFile(p))).toBe(false);
        expect((await run('DEL', p, conf(p, fields))).code).toBe(0);
      });

      it('CHECK compares sysctls and attributes with the config', async () => {
        const p = addPod();
        const fields = { sysctl: { 'net.ipv4.conf.all.arp_filter': '1' }, mtu: 1300, allmulti: true };
        try {
          const add = await run('ADD', p, conf(p, fields));
          expect(add.code, add.stdout).toBe(0);
          const ok = await run('CHECK', p, conf(p, { ...fields, prevResult: add.json }));
          expect(ok.code, ok.stdout).toBe(0);
          const wrongMtu = await run('CHECK', p, conf(p, { ...fields, mtu: 1200, prevResult: add.json }));
          expect(wrongMtu.code).toBe(1);
          expect(wrongMtu.json.msg).toMatch(/MTU of .* is 1200, current value is 1300/);
          sh('sysctl', ['-w', 'net.ipv4.conf.all.arp_filter=0'], { netns: p.pod });
          const wrongSysctl = await run('CHECK', p, conf(p, { ...fields, prevResult: add.json }));
          expect(wrongSysctl.code).toBe(1);
          expect(wrongSysctl.json.msg).toMatch(/arp_filter is 1, current value is 0/);
        } finally {
          await run('DEL', p, conf(p, fields));
        }
      });

      it('MAC precedence: config mac < CNI_ARGS MAC < runtimeConfig.mac < args.cni.mac', async () => {
        const cases: [Record<string, unknown>, string, string][] = [
          [{ mac: '02:00:00:00:00:01' }, '', '02:00:00:00:00:01'],
          [{ mac: '02:00:00:00:00:01' }, 'IgnoreUnknown=1;MAC=02:00:00:00:00:02', '02:00:00:00:00:02'],
          [
            { mac: '02:00:00:00:00:01', runtimeConfig: { mac: '02:00:00:00:00:03' } },
            'IgnoreUnknown=1;MAC=02:00:00:00:00:02',
            '02:00:00:00:00:03',
          ],
          [
            {
              mac: '02:00:00:00:00:01',
              runtimeConfig: { mac: '02:00:00:00:00:03' },
              args: { cni: { mac: '02:00:00:00:00:04' } },
            },
            'IgnoreUnknown=1;MAC=02:00:00:00:00:02',
            '02:00:00:00:00:04',
          ],
        ];
        for (const [fields, cniArgs, expected] of cases) {
          const p = addPod();
          const add = await run('ADD', p, conf(p, fields), cniArgs ? { CNI_ARGS: cniArgs } : {});
          expect(add.code, add.stdout).toBe(0);
          expect(link(p.pod, p.ifName).address).toBe(expected);
          expect(add.json.interfaces[1].mac).toBe(expected);
          await run('DEL', p, conf(p, fields), cniArgs ? { CNI_ARGS: cniArgs } : {});
        }
      });

      it('args.cni overrides the config: sysctl entries merged, mtu and promisc replaced', async () => {
        const p = addPod();
        const fields = {
          sysctl: { 'net.ipv4.conf.IFNAME.arp_ignore': '1', 'net.ipv4.conf.all.arp_announce': '1' },
          mtu: 1400,
          promisc: true,
          args: { cni: { sysctl: { 'net.ipv4.conf.all.arp_announce': '2' }, mtu: 1280, promisc: false } },
        };
        const add = await run('ADD', p, conf(p, fields));
        expect(add.code, add.stdout).toBe(0);
        expect(sysctl(p.pod, `net.ipv4.conf.${p.ifName}.arp_ignore`)).toBe('1');
        expect(sysctl(p.pod, 'net.ipv4.conf.all.arp_announce')).toBe('2');
        expect(attrs(p)).toMatchObject({ mtu: 1280, promisc: false });
        expect(JSON.parse(readFileSync(backupFile(p), 'utf8'))).toEqual({ mtu: 1500 });
        await run('DEL', p, conf(p, fields));
        expect(attrs(p).mtu).toBe(1500);
      });

      it('rejects a sysctl outside /proc/sys/net and a missing prevResult', async () => {
        const p = addPod();
        const outside = await run('ADD', p, conf(p, { sysctl: { 'kernel.hostname': 'x' } }));
        expect(outside.code).toBe(1);
        expect(outside.json.msg).toMatch(/invalid net sysctl key: "kernel.hostname"/);
        const noPrev = await run('ADD', p, { cniVersion: '1.0.0', name: 'tn', type: 'tuning', mtu: 1400 });
        expect(noPrev.code).toBe(1);
        expect(noPrev.json.msg).toMatch(/prevResult/);
        expect(attrs(p).mtu).toBe(1500);
      });

      it('DEL succeeds when the netns is gone', async () => {
        const p = addPod();
        const add = await run('ADD', p, conf(p, { mtu: 1400 }));
        expect(add.code, add.stdout).toBe(0);
        const gone = { ...p, pod: '/var/run/netns/does-not-exist-tuning' };
        const del = await run('DEL', gone, conf(gone, { mtu: 1400 }));
        expect(del.code, del.stdout).toBe(0);
        // Ours drops the backup with the netns; the reference keeps it (nothing can restore it any more).
        if (impl === ours) expect(existsSync(backupFile(p))).toBe(false);
        else rmSync(backupFile(p), { force: true });
      });
    });
  }

  describe('beyond the reference (v1.1.1 lacks these or gets them wrong)', () => {
    const run = (command: string, p: Pod, config: unknown, extra: Record<string, string> = {}) =>
      node.runPlugin(ours.bin, env(command, p, extra), config);

    it('CHECK resolves IFNAME keys (the reference reads /proc/sys/net/…/IFNAME/… and fails)', async () => {
      const p = addPod();
      const fields = { sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1' } };
      expect((await run('ADD', p, conf(p, fields))).code).toBe(0);
      const check = await run('CHECK', p, conf(p, fields));
      expect(check.code, check.stdout).toBe(0);
      if (reference.present) {
        const theirs = await node.runPlugin(reference.bin, env('CHECK', p), conf(p, fields));
        expect(theirs.json.msg).toMatch(/IFNAME/);
      }
    });

    it('IFNAME with a dotted interface name stays one path segment', async () => {
      const p = addPod('eth0.5');
      const fields = { sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1' } };
      const add = await run('ADD', p, conf(p, fields));
      expect(add.code, add.stdout).toBe(0);
      expect(sh('nsenter', [`--net=${p.pod}`, '--', 'cat', '/proc/sys/net/ipv4/conf/eth0.5/arp_filter']).trim()).toBe(
        '1',
      );
      expect((await run('CHECK', p, conf(p, fields))).code).toBe(0);
    });

    it('a sysctl the kernel lacks fails ADD with the same error from the Bun and the Node build, the keys before it written', async () => {
      // Under Bun the sysctls are written from inside the pod (setns); any failure there hands all of them to
      // sysctl(8), whose error and end state are what the Node build (always sysctl(8)) gives.
      const builds = [ours.bin, join(import.meta.dirname, '../../../../../dist/cni-bin/tuning')];
      expect(builds.filter(existsSync), 'both builds (run the build first)').toEqual(builds);
      const fields = { sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1', 'net.ipv4.conf.IFNAME.no_such_key': '1' } };
      const msgs: string[] = [];
      for (const bin of builds) {
        const p = addPod();
        const add = await node.runPlugin(bin, env('ADD', p), conf(p, fields));
        expect(add.code, add.stdout).toBe(1);
        msgs.push(add.json.msg);
        expect(sysctl(p.pod, `net.ipv4.conf.${p.ifName}.arp_filter`)).toBe('1');
      }
      expect(msgs[0]).toMatch(/^tuning: failed to set sysctls: .*no_such_key/);
      expect(new Set(msgs).size).toBe(1);
    });

    it('CHECK compares multi-value sysctls word by word (the kernel prints tabs)', async () => {
      const p = addPod();
      const fields = { sysctl: { 'net.ipv4.ping_group_range': '0 1000' } };
      expect((await run('ADD', p, conf(p, fields))).code).toBe(0);
      expect(sysctl(p.pod, 'net.ipv4.ping_group_range')).toBe('0\t1000');
      const check = await run('CHECK', p, conf(p, fields));
      expect(check.code, check.stdout).toBe(0);
    });

    it('txQLen is set, checked and restored', async () => {
      const p = addPod();
      const add = await run('ADD', p, conf(p, { txQLen: 42 }));
      expect(add.code, add.stdout).toBe(0);
      expect(attrs(p).txqlen).toBe(42);
      expect(JSON.parse(readFileSync(backupFile(p), 'utf8'))).toEqual({ txQLen: 1000 });
      expect((await run('CHECK', p, conf(p, { txQLen: 42 }))).code).toBe(0);
      expect((await run('CHECK', p, conf(p, { txQLen: 43 }))).json.msg).toMatch(/transmit queue length/);
      expect((await run('DEL', p, conf(p, { txQLen: 42 }))).code).toBe(0);
      expect(attrs(p).txqlen).toBe(1000);
    });

    it('the allowlist (path from TSCNI_TUNING_ALLOWLIST) restricts sysctl keys by regex', async () => {
      const list = join(node.tmp, 'allowlist.conf');
      writeFileSync(list, '^net\\.ipv4\\.conf\\.IFNAME\\.[a-z_]+$\n\n^net\\.ipv4\\.ping_group_range$\n');
      const p = addPod();
      const allowed = { sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1' } };
      expect((await run('ADD', p, conf(p, allowed), { TSCNI_TUNING_ALLOWLIST: list })).code).toBe(0);
      const denied = await run('ADD', p, conf(p, { sysctl: { 'net.ipv4.conf.all.arp_filter': '1' } }), {
        TSCNI_TUNING_ALLOWLIST: list,
      });
      expect(denied.code).toBe(1);
      expect(denied.json.code).toBe(7);
      expect(denied.json.msg).toMatch(/Sysctl net.ipv4.conf.all.arp_filter is not allowed/);
      expect(sysctl(p.pod, 'net.ipv4.conf.all.arp_filter')).toBe('0');
      const missingFile = await run('ADD', p, conf(p, { sysctl: { 'net.ipv4.conf.all.arp_filter': '1' } }), {
        TSCNI_TUNING_ALLOWLIST: join(node.tmp, 'none.conf'),
      });
      expect(missingFile.code).toBe(0);
    });

    it('two keys naming the same sysctl are rejected', async () => {
      const p = addPod();
      const r = await run(
        'ADD',
        p,
        conf(p, { sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1', [`net/ipv4/conf/${p.ifName}/arp_filter`]: '0' } }),
      );
      expect(r.code).toBe(1);
      expect(r.json).toMatchObject({ code: 7 });
      expect(r.json.msg).toMatch(/duplicated sysctl keys/);
      const raw = JSON.stringify(conf(p, { sysctl: { 'net.ipv4.conf.all.arp_filter': '1' } })).replace(
        '"net.ipv4.conf.all.arp_filter":"1"',
        '"net.ipv4.conf.all.arp_filter":"1","net.ipv4.conf.all.arp_filter":"0"',
      );
      const repeated = await run('ADD', p, raw);
      expect(repeated.json).toMatchObject({ code: 7 });
      expect(repeated.json.msg).toMatch(
        /sysctl: duplicated sysctl keys are not allowed: "net.ipv4.conf.all.arp_filter"/,
      );
    });

    it('bad input gets code 7 naming the field', async () => {
      const p = addPod();
      for (const [fields, field] of [
        [{ mac: 'not-a-mac' }, 'mac'],
        [{ mtu: -1 }, 'mtu'],
        [{ args: { cni: { mac: '02:00:00:00:00' } } }, 'args.cni.mac'],
        [{ sysctl: { 'net.ipv4.ip_forward': 1 } }, 'sysctl'],
        [{ dataDir: '/tmp/a\u0000b', mtu: 1400 }, 'dataDir'],
      ] as const) {
        const r = await run('ADD', p, conf(p, fields));
        expect(r.json.code, r.stdout).toBe(7);
        expect(r.json.msg).toContain(field);
        expect(r.stdout).not.toMatch(/\n\s+at /);
      }
      // DEL of such a config has nothing to restore (no ADD could save there) and succeeds.
      const del = await run('DEL', p, conf(p, { dataDir: '/tmp/a\u0000b' }));
      expect(del.code, del.stdout).toBe(0);
    });

    it("DEL removes the temp backup of an ADD killed between its write and its rename (a live writer's stays)", async () => {
      const p = addPod();
      const add = await run('ADD', p, conf(p, { mtu: 1400 }));
      expect(add.code, add.stdout).toBe(0);
      const dead = spawnSync('true').pid!; // a pid whose process has exited
      const stale = `${backupFile(p)}.tmp-${dead}`;
      const live = `${backupFile(p)}.tmp-${process.pid}`;
      writeFileSync(stale, '{"mtu"');
      writeFileSync(live, '{}');
      const del = await run('DEL', p, conf(p, { mtu: 1400 }));
      expect(del.code, del.stdout).toBe(0);
      expect(existsSync(backupFile(p))).toBe(false);
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(live)).toBe(true);
      rmSync(live);
    });

    it('a failed ADD restores what it changed and removes the backup', async () => {
      const p = addPod();
      const before = attrs(p);
      const r = await run('ADD', p, conf(p, { mac: '02:00:00:00:00:09', mtu: 70000 }));
      expect(r.code).toBe(1);
      expect(attrs(p)).toEqual(before);
      expect(existsSync(backupFile(p))).toBe(false);
    });

    it('a repeated ADD keeps the first backup (the real originals); DEL still succeeds with a config ADD would reject', async () => {
      const p = addPod();
      const before = attrs(p);
      expect((await run('ADD', p, conf(p, { mtu: 1400 }))).code).toBe(0);
      expect((await run('ADD', p, conf(p, { mtu: 1300, mac: '02:00:00:00:00:0b' }))).code).toBe(0);
      expect(JSON.parse(readFileSync(backupFile(p), 'utf8'))).toEqual({ mac: before.mac, mtu: 1500 });
      const del = await run('DEL', p, conf(p, { mtu: 1300, mac: 'no-longer-valid', sysctl: { 'kernel.x': '1' } }));
      expect(del.code, del.stdout).toBe(0);
      expect(attrs(p)).toEqual(before);
      expect(existsSync(backupFile(p))).toBe(false);
    });

    it.skipIf(!reference.present)('each restores the backup the other wrote (same file format)', async () => {
      const fields = { mac: '02:00:00:00:00:0a', mtu: 1450, promisc: true, allmulti: true };
      for (const [adder, deleter] of [
        [ours, reference],
        [reference, ours],
      ]) {
        const p = addPod();
        const before = attrs(p);
        expect((await node.runPlugin(adder.bin, env('ADD', p), conf(p, fields))).code).toBe(0);
        expect((await node.runPlugin(deleter.bin, env('DEL', p), conf(p, fields))).code).toBe(0);
        expect(attrs(p), `${deleter.name} restoring ${adder.name}'s backup`).toEqual(before);
        expect(existsSync(backupFile(p))).toBe(false);
      }
    });

    it('leaves no backup files behind', () => {
      expect(existsSync(dataDir) ? readdirSync(dataDir) : []).toEqual([]);
    });
  });
});
