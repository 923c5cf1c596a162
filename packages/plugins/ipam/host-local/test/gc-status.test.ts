import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { implementations, type PluginRun } from '@tscni/testing/node';
import { invoke, leases, netConf, scratchDir } from './harness';

// What we do beyond the reference: GC, STATUS, and a data dir nothing can escape.
const [ours] = implementations('host-local');

describe('host-local (tscni) beyond the reference', () => {
  const scratch = scratchDir('hl-gc');
  afterAll(() => scratch.remove());
  const ok = (r: PluginRun) => expect(r.code, r.stdout + r.stderr).toBe(0);
  const conf = (ipam: Record<string, unknown>) => netConf(scratch.dir, ipam, { cniVersion: '1.1.0' });
  const attachments = (list: [string, string][]) => list.map(([containerID, ifname]) => ({ containerID, ifname }));

  describe('GC (cni.dev/valid-attachments)', () => {
    it('releases every lease of the network whose attachment is not listed', async () => {
      const c = conf({ ranges: [[{ subnet: '10.40.0.0/24' }], [{ subnet: 'fd00:40::/64' }]] });
      const other = conf({ ranges: [[{ subnet: '10.40.0.0/24' }]] });
      for (const [cid, ifname] of [
        ['a', 'eth0'],
        ['b', 'eth0'],
        ['b', 'net1'],
        ['c', 'eth0'],
      ])
        ok(await invoke(ours.bin, 'ADD', c, { cid, ifname }));
      ok(await invoke(ours.bin, 'ADD', other, { cid: 'c' }));
      writeFileSync(join(scratch.dir, c.name, '10.40.0.200'), 'legacy-kept');
      writeFileSync(join(scratch.dir, c.name, '10.40.0.201'), 'legacy-gone');

      const gc = await invoke(ours.bin, 'GC', {
        ...c,
        'cni.dev/valid-attachments': attachments([
          ['a', 'eth0'],
          ['b', 'net1'],
          ['legacy-kept', 'eth0'],
        ]),
      });
      ok(gc);
      expect(Object.values(leases(scratch.dir, c.name)).sort()).toEqual([
        'a\r\neth0',
        'a\r\neth0',
        'b\r\nnet1',
        'b\r\nnet1',
        'legacy-kept',
      ]);
      expect(readdirSync(join(scratch.dir, c.name))).toEqual(
        expect.arrayContaining(['lock', 'last_reserved_ip.0', 'last_reserved_ip.1']),
      );
      // another network in the same data dir is untouched
      expect(Object.values(leases(scratch.dir, other.name))).toEqual(['c\r\neth0']);
    });

    it('an empty list releases everything; the old key cni.dev/attachments is honoured too', async () => {
      const c = conf({ subnet: '10.41.0.0/24' });
      ok(await invoke(ours.bin, 'ADD', c, { cid: 'x' }));
      ok(await invoke(ours.bin, 'ADD', c, { cid: 'y' }));
      ok(await invoke(ours.bin, 'GC', { ...c, 'cni.dev/attachments': attachments([['y', 'eth0']]) }));
      expect(Object.values(leases(scratch.dir, c.name))).toEqual(['y\r\neth0']);
      ok(await invoke(ours.bin, 'GC', { ...c, 'cni.dev/valid-attachments': [] }));
      expect(leases(scratch.dir, c.name)).toEqual({});
    });

    it('a network never used is fine and creates nothing; a missing list is error 7; GC needs 1.1.0', async () => {
      const c = conf({ subnet: '10.42.0.0/24' });
      ok(await invoke(ours.bin, 'GC', { ...c, 'cni.dev/valid-attachments': [] }));
      expect(existsSync(join(scratch.dir, c.name))).toBe(false);
      expect((await invoke(ours.bin, 'GC', c)).json).toMatchObject({
        code: 7,
        msg: expect.stringContaining('cni.dev/valid-attachments'),
      });
      expect(
        (await invoke(ours.bin, 'GC', { ...c, cniVersion: '1.0.0', 'cni.dev/valid-attachments': [] })).json.code,
      ).toBe(1);
    });
  });

  it('CHECK also verifies that prevResult addresses are leased to the attachment', async () => {
    const c = conf({ subnet: '10.39.0.0/24' });
    const add = await invoke(ours.bin, 'ADD', c, { cid: 'chk' });
    ok(add);
    ok(await invoke(ours.bin, 'ADD', c, { cid: 'other' }));
    ok(await invoke(ours.bin, 'CHECK', { ...c, prevResult: add.json }, { cid: 'chk' }));
    const stolen = { ...add.json, ips: [{ address: '10.39.0.3/24', gateway: '10.39.0.1' }] };
    const r = await invoke(ours.bin, 'CHECK', { ...c, prevResult: stolen }, { cid: 'chk' });
    expect(r.json).toMatchObject({
      code: 999,
      msg: 'host-local: address 10.39.0.3 of prevResult is not reserved for container chk interface eth0',
    });
    // addresses from elsewhere in the chain (not ours to check) are ignored
    ok(
      await invoke(
        ours.bin,
        'CHECK',
        { ...c, prevResult: { ...add.json, ips: [...add.json.ips, { address: '192.168.9.9/24' }] } },
        { cid: 'chk' },
      ),
    );
  });

  describe('STATUS', () => {
    it('answers 50 while a range set has no free address, 0 again after a DEL', async () => {
      const c = conf({
        ranges: [
          [{ subnet: '10.43.0.0/24' }],
          [{ subnet: '10.44.0.0/29', rangeStart: '10.44.0.2', rangeEnd: '10.44.0.3' }],
        ],
      });
      ok(await invoke(ours.bin, 'STATUS', c));
      ok(await invoke(ours.bin, 'ADD', c, { cid: 'p' }));
      ok(await invoke(ours.bin, 'STATUS', c));
      ok(await invoke(ours.bin, 'ADD', c, { cid: 'q' }));
      const full = await invoke(ours.bin, 'STATUS', c);
      expect(full.code).toBe(1);
      expect(full.json).toMatchObject({
        code: 50,
        msg: 'no IP addresses available in range set 1: 10.44.0.2-10.44.0.3',
      });
      ok(await invoke(ours.bin, 'DEL', c, { cid: 'p' }));
      ok(await invoke(ours.bin, 'STATUS', c));
    });

    it('the gateway does not count as free', async () => {
      const c = conf({ ranges: [[{ subnet: '10.45.0.0/29', rangeStart: '10.45.0.1', rangeEnd: '10.45.0.2' }]] });
      ok(await invoke(ours.bin, 'ADD', c, { cid: 'only' }));
      expect((await invoke(ours.bin, 'STATUS', c)).json.code).toBe(50);
    });

    it('a broken config is error 7', async () => {
      expect((await invoke(ours.bin, 'STATUS', conf({ subnet: '10.46.0.0/31' }))).json.code).toBe(7);
    });
  });

  describe('nothing is written outside the data dir', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['a relative dataDir', { dataDir: 'relative/dir' }, 'ipam.dataDir'],
      ['a dataDir with ..', { dataDir: '/tmp/../etc' }, 'ipam.dataDir'],
    ];
    for (const [what, override, field] of cases) {
      it(what, async () => {
        const c = netConf(scratch.dir, { subnet: '10.47.0.0/24' });
        const r = await invoke(ours.bin, 'ADD', { ...c, ipam: { ...(c.ipam as object), ...override } });
        expect(r.json, r.stdout + r.stderr).toMatchObject({ code: 7, msg: expect.stringContaining(field) });
      });
    }

    it('a network name that is a path', async () => {
      for (const name of ['../escape', 'a/b', '.hidden']) {
        const r = await invoke(ours.bin, 'ADD', { ...netConf(scratch.dir, { subnet: '10.47.0.0/24' }), name });
        expect(r.json, name).toMatchObject({ code: 7, msg: 'invalid characters found in network name' });
      }
      expect(existsSync(join(scratch.dir, '..', 'escape'))).toBe(false);
    });

    it('a network directory that is a symlink is refused', async () => {
      const target = join(scratch.dir, 'elsewhere');
      mkdirSync(target);
      const c = netConf(scratch.dir, { subnet: '10.48.0.0/24' });
      symlinkSync(target, join(scratch.dir, c.name));
      const r = await invoke(ours.bin, 'ADD', c);
      expect(r.code).toBe(1);
      expect(r.json.msg).toContain('not a directory');
      expect(readdirSync(target)).toEqual([]);
    });
  });
});
