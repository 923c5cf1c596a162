/**
 * A PCI NIC bound to a userspace driver (vfio-pci, uio_pci_generic, igb_uio) has no netdev: host-device
 * leaves it where it is and only runs IPAM, like the reference. No such device exists on this machine, so
 * the plugin runs in-process against a fixture sysfs tree (bus/pci/devices/<addr>/driver → …/drivers/<name>).
 * Nothing in DPDK mode touches a link: the assertions check that no namespace changed.
 */
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '@tscni/cni';
import { DIST_BIN, TestNode, linksIn, missingForKernelTests, sh } from '@tscni/testing/node';
import { hostDeviceWith } from '../src/host-device';
import { userspaceDriver } from '../src/dpdk';

const missing = missingForKernelTests(['ip']);

describe.skipIf(!!missing)(
  `host-device with a DPDK-bound PCI device (fixture sysfs)${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let sysfs: string;
    let dataDir: string;
    let n = 0;
    const VFIO = '0000:03:00.1';
    const KERNEL = '0000:03:00.2';
    const UNBOUND = '0000:03:00.3';

    beforeAll(() => {
      node = new TestNode('dpdk');
      sysfs = join(node.tmp, 'sys');
      dataDir = join(node.tmp, 'ipam');
      const device = (addr: string, driver?: string) => {
        const dir = join(sysfs, 'bus/pci/devices', addr);
        mkdirSync(dir, { recursive: true });
        if (!driver) return;
        mkdirSync(join(sysfs, 'bus/pci/drivers', driver), { recursive: true });
        symlinkSync(`../../../../bus/pci/drivers/${driver}`, join(dir, 'driver'));
      };
      device(VFIO, 'vfio-pci');
      device(KERNEL, 'ixgbe');
      device(UNBOUND);
    });
    afterAll(() => node?.destroy());

    const plugin = () => hostDeviceWith(sysfs);
    const conf = (extra: Record<string, unknown>) => ({
      cniVersion: '1.0.0',
      name: 'dpdknet',
      type: 'host-device',
      ipam: { type: 'host-local', subnet: '10.81.0.0/24', dataDir },
      ...extra,
    });
    const call = async (command: string, cid: string, netns: string, config: unknown) => {
      const env = {
        CNI_COMMAND: command,
        CNI_CONTAINERID: cid,
        CNI_NETNS: netns,
        CNI_IFNAME: 'net1',
        CNI_PATH: DIST_BIN,
        PATH: process.env.PATH,
      };
      const out = await dispatch(plugin(), {}, env, () => JSON.stringify(config));
      return { ...out, json: out.stdout.trim() ? JSON.parse(out.stdout) : undefined };
    };
    const leases = () => readdirSync(join(dataDir, 'dpdknet')).filter((f) => /^\d/.test(f));
    const rootLinks = () =>
      sh('ip', ['-o', 'link', 'show'])
        .split('\n')
        .map((l) => l.split(':')[1]?.trim())
        .sort();

    it('decides from the driver link: vfio-pci is userspace, ixgbe and no driver are not', () => {
      expect(userspaceDriver(VFIO, sysfs)).toBe('vfio-pci');
      expect(userspaceDriver(KERNEL, sysfs)).toBeUndefined();
      expect(userspaceDriver(UNBOUND, sysfs)).toBeUndefined();
      expect(userspaceDriver('../../../etc', sysfs)).toBeUndefined();
    });

    for (const [how, sel] of [
      ['pciBusID', { pciBusID: VFIO }],
      ['runtimeConfig.deviceID', { pciBusID: KERNEL, runtimeConfig: { deviceID: VFIO } }],
    ] as const) {
      it(`ADD (${how}) runs IPAM without moving anything; CHECK passes; DEL releases the lease`, async () => {
        const pod = node.addPod();
        const cid = `ctr-dpdk-${n++}`;
        const before = rootLinks();
        const add = await call('ADD', cid, pod, conf(sel));
        expect(add.exitCode, add.stdout + add.stderr).toBe(0);
        expect(add.json.interfaces).toBeUndefined();
        expect(add.json.ips).toEqual([
          { address: expect.stringMatching(/^10\.81\.0\.\d+\/24$/), gateway: '10.81.0.1' },
        ]);
        expect(leases()).toEqual([add.json.ips[0].address.split('/')[0]]);
        expect(rootLinks()).toEqual(before);
        expect(linksIn(pod).map((l) => l.ifname)).toEqual(['lo']);

        const check = await call('CHECK', cid, pod, { ...conf(sel), prevResult: add.json });
        expect(check.exitCode, check.stdout).toBe(0);
        const del = await call('DEL', cid, pod, { ...conf(sel), prevResult: add.json });
        expect(del.exitCode, del.stdout).toBe(0);
        expect(leases()).toEqual([]);
        expect(rootLinks()).toEqual(before);
      });
    }

    it('without ipam the result is empty and nothing is allocated', async () => {
      const pod = node.addPod();
      const { ipam: _, ...noIpam } = conf({ pciBusID: VFIO });
      const add = await call('ADD', `ctr-dpdk-${n++}`, pod, noIpam);
      expect(add.exitCode, add.stdout).toBe(0);
      expect(add.json).toEqual({ cniVersion: '1.0.0' });
    });

    it('a kernel-bound device without a netdev is still error 7 naming pciBusID', async () => {
      const pod = node.addPod();
      const add = await call('ADD', `ctr-dpdk-${n++}`, pod, conf({ pciBusID: KERNEL }));
      expect(add.exitCode).toBe(1);
      expect(add.json.code).toBe(7);
      expect(add.json.msg).toContain('pciBusID');
      expect(add.json.msg).toContain(join(sysfs, 'bus/pci/devices', KERNEL));
    });
  },
);
