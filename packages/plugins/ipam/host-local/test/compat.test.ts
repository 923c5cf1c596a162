import { afterAll, describe, expect, it } from 'vitest';
import { implementations, type PluginRun } from '@tscni/testing/node';
import { addresses, invoke, lastReserved, leases, netConf, pool, scratchDir } from './harness';

// A node can switch between /usr/lib/cni/host-local and ours on the same data dir, either way round.
const [ours, reference] = implementations('host-local');

describe.skipIf(!reference.present)('host-local data dir shared with the reference', () => {
  const scratch = scratchDir('hl-compat');
  afterAll(() => scratch.remove());
  const ok = (r: PluginRun) => expect(r.code, r.stdout + r.stderr).toBe(0);

  for (const [first, second] of [
    [reference, ours],
    [ours, reference],
  ]) {
    it(`${first.name} allocates, ${second.name} continues without collision and releases the other's leases`, async () => {
      const c = netConf(scratch.dir, { ranges: [[{ subnet: '10.30.0.0/29' }], [{ subnet: 'fd00:30::/125' }]] });
      for (const cid of ['a', 'b', 'c']) ok(await invoke(first.bin, 'ADD', c, { cid }));
      ok(await invoke(first.bin, 'DEL', c, { cid: 'b' }));
      expect(lastReserved(scratch.dir, c.name, 0)).toBe('10.30.0.4');

      // round-robin continues after the other binary's last_reserved_ip: .5, .6, then wraps to the freed .3
      const got: string[] = [];
      for (const cid of ['d', 'e', 'f']) {
        const r = await invoke(second.bin, 'ADD', c, { cid });
        ok(r);
        got.push(addresses(r)[0]);
      }
      expect(got).toEqual(['10.30.0.5/29', '10.30.0.6/29', '10.30.0.3/29']);
      const r = await invoke(second.bin, 'ADD', c, { cid: 'g' });
      expect(r.json.msg).toContain('no IP addresses available in range set: 10.30.0.1-10.30.0.6');
      expect(r.json.msg).not.toContain('duplicate');
      // the first binary's lease is seen as a duplicate and checked, then released by the second
      expect((await invoke(second.bin, 'ADD', c, { cid: 'a' })).json.msg).toContain(
        '10.30.0.2 has been allocated to a, duplicate allocation is not allowed',
      );
      ok(await invoke(second.bin, 'CHECK', { ...c, prevResult: { cniVersion: '1.0.0', ips: [] } }, { cid: 'c' }));
      ok(await invoke(second.bin, 'DEL', c, { cid: 'a' }));
      ok(await invoke(second.bin, 'DEL', c, { cid: 'c' }));
      // and the first binary releases what the second handed out
      for (const cid of ['d', 'e', 'f']) ok(await invoke(first.bin, 'DEL', c, { cid }));
      expect(leases(scratch.dir, c.name)).toEqual({});
    });
  }

  it('both binaries allocating at the same time take the same lock: 60 distinct addresses', async () => {
    const c = netConf(scratch.dir, { ranges: [[{ subnet: '10.31.0.0/24' }]] });
    const runs = await pool(
      8,
      Array.from(
        { length: 60 },
        (_, i) => () => invoke(i % 2 ? ours.bin : reference.bin, 'ADD', c, { cid: `mix-${i}` }),
      ),
    );
    runs.forEach(ok);
    const got = runs.map((r) => addresses(r)[0]);
    expect(new Set(got).size).toBe(60);
    expect(Object.keys(leases(scratch.dir, c.name))).toHaveLength(60);
  });
});
