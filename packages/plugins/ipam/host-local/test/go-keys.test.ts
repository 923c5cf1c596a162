import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { implementations, type PluginRun } from '@tscni/testing/node';
import { addresses, invoke, leases, scratchDir } from './harness';

// Runtimes written in Go send capability values with Go field names and nulls (containerd's go-cni:
// ipRanges [[{"Subnet","RangeStart","RangeEnd","Gateway"}]]); the reference decodes keys case-insensitively.
describe('host-local decodes its config the way Go does', () => {
  const scratch = scratchDir('hl-gokeys');
  afterAll(() => scratch.remove());
  const ok = (r: PluginRun) => expect(r.code, r.stdout + r.stderr).toBe(0);
  let seq = 0;

  for (const impl of implementations('host-local').filter((i) => i.present)) {
    const base = () => ({ cniVersion: '1.0.0', name: `gok-${impl.name}-${seq++}`, type: 'bridge' });

    it(`${impl.name}: "Subnet", "DataDir", "Routes", and null runtimeConfig/dns`, async () => {
      const c = {
        ...base(),
        runtimeConfig: null,
        dns: null,
        IPAM: {
          Type: 'host-local',
          Subnet: '10.41.0.0/24',
          RangeStart: '10.41.0.10',
          DataDir: scratch.dir,
          Routes: [{ Dst: '0.0.0.0/0' }],
        },
      };
      const r = await invoke(impl.bin, 'ADD', c, { cid: 'a' });
      ok(r);
      expect(addresses(r)).toEqual(['10.41.0.10/24']);
      expect(r.json.routes).toEqual([{ dst: '0.0.0.0/0' }]);
      expect(Object.keys(leases(scratch.dir, c.name))).toEqual(['10.41.0.10']);
      ok(await invoke(impl.bin, 'DEL', c, { cid: 'a' }));
      expect(leases(scratch.dir, c.name)).toEqual({});
      expect(existsSync(`/var/lib/cni/networks/${c.name}`)).toBe(false);
    });

    it(`${impl.name}: null routes (also after a "Routes" key: Go resets the slice), null ranges`, async () => {
      const c = {
        ...base(),
        ipam: {
          type: 'host-local',
          subnet: '10.44.0.0/24',
          dataDir: scratch.dir,
          Routes: [{ dst: '0.0.0.0/0' }],
          routes: null,
          ranges: null,
          dns: null,
        },
      };
      const r = await invoke(impl.bin, 'ADD', c, { cid: 'r' });
      ok(r);
      expect(addresses(r)).toEqual(['10.44.0.2/24']);
      expect(r.json.routes).toBeUndefined();
      ok(await invoke(impl.bin, 'DEL', c, { cid: 'r' }));
      expect(leases(scratch.dir, c.name)).toEqual({});
    });

    it(`${impl.name}: containerd's ipRanges with Go field names`, async () => {
      const c = {
        ...base(),
        capabilities: { ipRanges: true },
        runtimeConfig: {
          ipRanges: [
            [{ Subnet: '10.42.0.0/24', RangeStart: '10.42.0.20', RangeEnd: '10.42.0.30', Gateway: '10.42.0.254' }],
          ],
        },
        ipam: { type: 'host-local', dataDir: scratch.dir, ranges: [[{ subnet: '10.43.0.0/24' }]] },
      };
      const r = await invoke(impl.bin, 'ADD', c, { cid: 'b' });
      ok(r);
      expect(r.json.ips).toEqual([
        { address: '10.42.0.20/24', gateway: '10.42.0.254' },
        { address: '10.43.0.2/24', gateway: '10.43.0.1' },
      ]);
      ok(await invoke(impl.bin, 'DEL', c, { cid: 'b' }));
      expect(leases(scratch.dir, c.name)).toEqual({});
    });

    it(`${impl.name}: a type error is still code 7 (a number for the subnet)`, async () => {
      const r = await invoke(impl.bin, 'ADD', {
        ...base(),
        ipam: { type: 'host-local', Subnet: 10, dataDir: scratch.dir },
      });
      expect(r.code).toBe(1);
      expect(r.json.code).toBe(impl.name === 'tscni' ? 7 : 999 /* the reference's decode error has no code */);
    });
  }
});
