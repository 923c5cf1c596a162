import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { implementations, type PluginRun } from '@tscni/testing/node';
import { addresses, invoke, lastReserved, leases, netConf, scratchDir } from './harness';

// The same cases against our binary and Debian's /usr/lib/cni/host-local (cni.md §3.3).
for (const impl of implementations('host-local')) {
  describe.skipIf(!impl.present)(`host-local (${impl.name})`, () => {
    const scratch = scratchDir(`hl-${impl.name}`);
    afterAll(() => scratch.remove());
    const conf = (ipam: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      netConf(scratch.dir, ipam, extra);
    const ok = (r: PluginRun) => expect(r.code, r.stdout + r.stderr).toBe(0);
    /** Config problems: error 7 naming the field from ours, 999 from the reference; the reference's words either way. */
    const configError = (r: PluginRun, words: string) => {
      expect(r.code, r.stdout).toBe(1);
      expect(r.json.code).toBe(impl.name === 'tscni' ? 7 : 999);
      expect(r.json.msg).toContain(words);
      expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
    };
    const failure = (r: PluginRun, words: string) => {
      expect(r.code, r.stdout).toBe(1);
      expect(r.json.msg).toContain(words);
    };

    for (const version of impl.versions.filter((v) => v >= '0.3.0')) {
      it(`dual-stack ADD, CHECK, DEL at ${version}, leases in the reference's format`, async () => {
        const c = conf(
          {
            ranges: [[{ subnet: '10.1.2.0/24' }], [{ subnet: 'fd00:1::/120' }]],
            routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
          },
          { cniVersion: version },
        );
        const add = await invoke(impl.bin, 'ADD', c, { cid: 'ctr-a' });
        ok(add);
        expect(add.json.cniVersion).toBe(version);
        const v = version < '1.0.0' ? (f: string) => ({ version: f }) : () => ({});
        expect(add.json.ips).toEqual([
          { ...v('4'), address: '10.1.2.2/24', gateway: '10.1.2.1' },
          { ...v('6'), address: 'fd00:1::2/120', gateway: 'fd00:1::1' },
        ]);
        expect(add.json.routes).toEqual([{ dst: '0.0.0.0/0' }, { dst: '::/0' }]);
        expect(add.json.interfaces).toBeUndefined();
        expect(leases(scratch.dir, c.name)).toEqual({ '10.1.2.2': 'ctr-a\r\neth0', 'fd00:1::2': 'ctr-a\r\neth0' });
        expect(lastReserved(scratch.dir, c.name, 0)).toBe('10.1.2.2');
        expect(lastReserved(scratch.dir, c.name, 1)).toBe('fd00:1::2');
        if (version >= '0.4.0') ok(await invoke(impl.bin, 'CHECK', { ...c, prevResult: add.json }, { cid: 'ctr-a' }));
        ok(await invoke(impl.bin, 'DEL', c, { cid: 'ctr-a' }));
        expect(leases(scratch.dir, c.name)).toEqual({});
        ok(await invoke(impl.bin, 'DEL', c, { cid: 'ctr-a' }));
      });
    }

    for (const version of ['0.1.0', '0.2.0']) {
      it(`ADD at ${version} prints the legacy ip4/ip6 shape`, async () => {
        const c = conf({ subnet: '10.3.0.0/16', routes: [{ dst: '0.0.0.0/0' }] }, { cniVersion: version });
        const add = await invoke(impl.bin, 'ADD', c);
        ok(add);
        expect(add.json.ip4).toEqual({ ip: '10.3.0.2/16', gateway: '10.3.0.1', routes: [{ dst: '0.0.0.0/0' }] });
        ok(await invoke(impl.bin, 'DEL', c));
        expect(leases(scratch.dir, c.name)).toEqual({});
      });
    }

    it('allocates round-robin from last_reserved_ip and never reuses a freed address first', async () => {
      const c = conf({ ranges: [[{ subnet: '10.2.0.0/24', rangeStart: '10.2.0.10', rangeEnd: '10.2.0.12' }]] });
      const a = await invoke(impl.bin, 'ADD', c, { cid: 'a' });
      const b = await invoke(impl.bin, 'ADD', c, { cid: 'b' });
      expect([...addresses(a), ...addresses(b)]).toEqual(['10.2.0.10/24', '10.2.0.11/24']);
      ok(await invoke(impl.bin, 'DEL', c, { cid: 'a' }));
      const d = await invoke(impl.bin, 'ADD', c, { cid: 'd' });
      expect(addresses(d)).toEqual(['10.2.0.12/24']);
      // wraps around to the freed .10
      const e = await invoke(impl.bin, 'ADD', c, { cid: 'e' });
      expect(addresses(e)).toEqual(['10.2.0.10/24']);
      failure(
        await invoke(impl.bin, 'ADD', c, { cid: 'f' }),
        'no IP addresses available in range set: 10.2.0.10-10.2.0.12',
      );
      expect(lastReserved(scratch.dir, c.name)).toBe('10.2.0.10');
    });

    it('skips the gateway even inside rangeStart..rangeEnd', async () => {
      const c = conf({ ranges: [[{ subnet: '10.4.0.0/29', gateway: '10.4.0.3' }]] });
      const got: string[] = [];
      for (const cid of ['a', 'b', 'c', 'd', 'e']) {
        const r = await invoke(impl.bin, 'ADD', c, { cid });
        ok(r);
        expect(r.json.ips[0].gateway).toBe('10.4.0.3');
        got.push(...addresses(r));
      }
      expect(got).toEqual(['10.4.0.1/29', '10.4.0.2/29', '10.4.0.4/29', '10.4.0.5/29', '10.4.0.6/29']);
      failure(
        await invoke(impl.bin, 'ADD', c, { cid: 'f' }),
        'no IP addresses available in range set: 10.4.0.1-10.4.0.6',
      );
    });

    it('tries the pools of a range set in order', async () => {
      const c = conf({ ranges: [[{ subnet: '10.5.0.0/30' }, { subnet: '10.5.1.0/24', gateway: '10.5.1.254' }]] });
      const a = await invoke(impl.bin, 'ADD', c, { cid: 'a' });
      const b = await invoke(impl.bin, 'ADD', c, { cid: 'b' });
      expect(a.json.ips).toEqual([{ address: '10.5.0.2/30', gateway: '10.5.0.1' }]);
      expect(b.json.ips).toEqual([{ address: '10.5.1.1/24', gateway: '10.5.1.254' }]);
    });

    it('puts runtimeConfig.ipRanges first, then the legacy subnet, then ranges', async () => {
      const c = conf(
        { subnet: '10.6.0.0/24', gateway: '10.6.0.254', ranges: [[{ subnet: 'fd00:6::/64' }]] },
        { runtimeConfig: { ipRanges: [[{ subnet: '10.7.0.0/24' }]] } },
      );
      const r = await invoke(impl.bin, 'ADD', c);
      ok(r);
      expect(r.json.ips).toEqual([
        { address: '10.7.0.2/24', gateway: '10.7.0.1' },
        { address: '10.6.0.1/24', gateway: '10.6.0.254' },
        { address: 'fd00:6::2/64', gateway: 'fd00:6::1' },
      ]);
      expect(lastReserved(scratch.dir, c.name, 2)).toBe('fd00:6::2');
    });

    describe('requested addresses', () => {
      const base = () => conf({ ranges: [[{ subnet: '10.8.0.0/24' }], [{ subnet: 'fd00:8::/64' }]] });
      it('CNI_ARGS IP= (with or without a prefix)', async () => {
        const c = base();
        const r = await invoke(impl.bin, 'ADD', c, { cniArgs: 'IgnoreUnknown=1;IP=10.8.0.77/24' });
        ok(r);
        expect(addresses(r)).toEqual(['10.8.0.77/24', 'fd00:8::2/64']);
        expect(leases(scratch.dir, c.name)['10.8.0.77']).toBe('ctr1\r\neth0');
      });
      it('args.cni.ips and runtimeConfig.ips, one per range set', async () => {
        const c = { ...base(), args: { cni: { ips: ['fd00:8::99'] } }, runtimeConfig: { ips: ['10.8.0.99/24'] } };
        const r = await invoke(impl.bin, 'ADD', c);
        ok(r);
        expect(addresses(r)).toEqual(['10.8.0.99/24', 'fd00:8::99/64']);
      });
      it('the gateway, a taken address, or one outside every set is refused', async () => {
        const c = base();
        failure(
          await invoke(impl.bin, 'ADD', c, { cid: 'g', cniArgs: 'IP=10.8.0.1' }),
          "requested ip 10.8.0.1 is subnet's gateway",
        );
        ok(await invoke(impl.bin, 'ADD', c, { cid: 'x', cniArgs: 'IP=10.8.0.5' }));
        failure(
          await invoke(impl.bin, 'ADD', c, { cid: 'y', cniArgs: 'IP=10.8.0.5' }),
          'requested IP address 10.8.0.5 is not available in range set 10.8.0.1-10.8.0.254',
        );
        failure(
          await invoke(impl.bin, 'ADD', c, { cid: 'z', cniArgs: 'IP=10.9.9.9' }),
          'failed to allocate all requested IPs: 10.9.9.9',
        );
        // the failed ADDs left nothing behind
        expect(Object.values(leases(scratch.dir, c.name)).sort()).toEqual(['x\r\neth0', 'x\r\neth0']);
      });
    });

    it('refuses a second allocation for the same container and interface', async () => {
      const c = conf({ subnet: '10.9.0.0/24' });
      ok(await invoke(impl.bin, 'ADD', c, { cid: 'dup' }));
      failure(
        await invoke(impl.bin, 'ADD', c, { cid: 'dup' }),
        '10.9.0.2 has been allocated to dup, duplicate allocation is not allowed',
      );
      const other = await invoke(impl.bin, 'ADD', c, { cid: 'dup', ifname: 'net1' });
      expect(addresses(other)).toEqual(['10.9.0.3/24']);
      ok(await invoke(impl.bin, 'DEL', c, { cid: 'dup' }));
      expect(leases(scratch.dir, c.name)).toEqual({ '10.9.0.3': 'dup\r\nnet1' });
    });

    it('a failure in a later range set releases the earlier ones', async () => {
      const c = conf({ ranges: [[{ subnet: '10.10.0.0/24' }], [{ subnet: '10.11.0.0/30' }]] });
      ok(await invoke(impl.bin, 'ADD', c, { cid: 'first' }));
      failure(
        await invoke(impl.bin, 'ADD', c, { cid: 'second' }),
        'failed to allocate for range 1: no IP addresses available in range set: 10.11.0.1-10.11.0.2',
      );
      expect(Object.values(leases(scratch.dir, c.name))).toEqual(['first\r\neth0', 'first\r\neth0']);
    });

    it('CHECK fails when the attachment holds no lease', async () => {
      const c = conf({ subnet: '10.12.0.0/24' });
      failure(
        await invoke(
          impl.bin,
          'CHECK',
          { ...c, prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.12.0.2/24' }] } },
          { cid: 'ghost' },
        ),
        'host-local: Failed to find address added by container ghost',
      );
    });

    it('DEL releases leases written by old versions (content = container ID only)', async () => {
      const c = conf({ subnet: '10.13.0.0/24' });
      ok(await invoke(impl.bin, 'ADD', c, { cid: 'other' }));
      writeFileSync(join(scratch.dir, c.name, '10.13.0.50'), 'old-ctr');
      ok(await invoke(impl.bin, 'DEL', c, { cid: 'old-ctr' }));
      expect(Object.keys(leases(scratch.dir, c.name))).toEqual(['10.13.0.2']);
    });

    it('resolvConf becomes the result dns', async () => {
      const resolv = join(scratch.dir, 'resolv.conf');
      writeFileSync(
        resolv,
        '# comment\nnameserver 10.0.0.53\nnameserver fd00::53\ndomain example.com\nsearch a.example b.example\n; other\noptions ndots:5 edns0\nnameserver\n',
      );
      const r = await invoke(impl.bin, 'ADD', conf({ subnet: '10.14.0.0/24', resolvConf: resolv }));
      ok(r);
      expect(r.json.dns).toEqual({
        nameservers: ['10.0.0.53', 'fd00::53'],
        domain: 'example.com',
        search: ['a.example', 'b.example'],
        options: ['ndots:5', 'edns0'],
      });
    });

    describe('config validation', () => {
      const cases: [string, Record<string, unknown>, string, Record<string, unknown>?][] = [
        [
          'a network too small',
          { ranges: [[{ subnet: '10.20.0.0/31' }]] },
          'Network 10.20.0.0/31 too small to allocate from',
        ],
        [
          'an IPv6 network too small',
          { ranges: [[{ subnet: 'fd00:20::/127' }]] },
          'Network fd00:20::/127 too small to allocate from',
        ],
        [
          'host bits set',
          { ranges: [[{ subnet: '10.20.0.1/24' }]] },
          'Network has host bits set. For a subnet mask of length 24 the network address is 10.20.0.0',
        ],
        [
          'overlapping range sets',
          { ranges: [[{ subnet: '10.20.0.0/24' }], [{ subnet: '10.20.0.0/16' }]] },
          'range set 0 overlaps with 1',
        ],
        [
          'overlapping pools in a set',
          { ranges: [[{ subnet: '10.20.0.0/24' }, { subnet: '10.20.0.0/16' }]] },
          'subnets 10.20.0.1-10.20.0.254 and 10.20.0.1-10.20.255.254 overlap',
        ],
        [
          'mixed families in a set',
          { ranges: [[{ subnet: '10.20.0.0/24' }, { subnet: 'fd00::/64' }]] },
          'mixed address families',
        ],
        ['an empty range set', { ranges: [[]] }, 'empty range set'],
        ['no ranges at all', { ranges: [] }, 'no IP ranges specified'],
        [
          'rangeStart outside the subnet',
          { ranges: [[{ subnet: '10.20.0.0/24', rangeStart: '10.21.0.5' }]] },
          'RangeStart 10.21.0.5 not in network 10.20.0.0/24',
        ],
        [
          'rangeEnd outside the subnet',
          { ranges: [[{ subnet: '10.20.0.0/24', rangeEnd: '10.21.0.5' }]] },
          'RangeEnd 10.21.0.5 not in network 10.20.0.0/24',
        ],
        ['a malformed subnet', { ranges: [[{ subnet: 'bogus' }]] }, 'invalid CIDR address: bogus'],
        [
          'two v4 sets at 0.2.0',
          { ranges: [[{ subnet: '10.20.0.0/24' }], [{ subnet: '10.21.0.0/24' }]] },
          'CNI version 0.2.0 does not support more than 1 address per family',
          { cniVersion: '0.2.0' },
        ],
      ];
      for (const [what, ipam, words, extra] of cases) {
        it(what, async () => configError(await invoke(impl.bin, 'ADD', conf(ipam, extra)), words));
      }
      it('a missing ipam key', async () => {
        configError(
          await invoke(impl.bin, 'ADD', { cniVersion: '1.0.0', name: 'x', type: 'bridge' }),
          "IPAM config missing 'ipam' key",
        );
      });
      it('a missing network name', async () => {
        const r = await invoke(impl.bin, 'ADD', {
          cniVersion: '1.0.0',
          ipam: { type: 'host-local', subnet: '10.20.0.0/24', dataDir: scratch.dir },
        });
        expect(r.json).toMatchObject({ code: 7, msg: 'missing network name' });
      });
    });
  });
}
