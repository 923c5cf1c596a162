/**
 * The etcd subnet manager on a dual-stack network, against a real etcd (Debian's 3.4, on 127.0.0.1):
 * flannel's `10.244.1.0-24&fd00:…-64` keys with PublicIPv6 and BackendV6Data, distinct subnets of both
 * families for nodes racing, keeping both across restarts, a v4-only lease replaced when IPv6 is
 * switched on, one IPv4 subnet never under two keys, and the IPv6 subnet taken over from subnet.env.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCIDR, parseCIDR } from '@tscni/net/host';
import { missingForKernelTests } from '@tscni/testing/node';
import { defaults } from '../src/flags';
import { parseNetworkConfig } from '../src/network';
import { Registry } from '../src/registry';
import { SubnetLostError, SubnetManager } from '../src/subnet-manager';
import { makeAttrs, type LeaseAttrs } from '../src/lease';
import type { Logger } from '../src/log';
import { LocalEtcd } from '@tscni/testing/etcd';

// etcd (etcd-server) must be installed: without it the suite fails rather than skips.
const missing = missingForKernelTests([]);
const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };
const DUAL = '{"Network":"10.90.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:90::/56","Backend":{"Type":"vxlan"}}';
const V4 = '{"Network":"10.90.0.0/16","Backend":{"Type":"vxlan"}}';
const attrs = (n: number, dual = true): LeaseAttrs =>
  makeAttrs(
    `192.0.2.${n}`,
    'vxlan',
    { VNI: 1, VtepMAC: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}` },
    dual ? `2001:db8::${n}` : undefined,
    { VNI: 1, VtepMAC: `06:00:00:00:00:${n.toString(16).padStart(2, '0')}` },
  );

describe.skipIf(!!missing)(`the etcd subnet manager, dual-stack${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let etcd: LocalEtcd;
  let dir: string;
  const registries: Registry[] = [];
  const registry = (prefix: string) => {
    const r = new Registry({ ...defaults(), etcdEndpoints: [etcd.endpoint], etcdPrefix: prefix });
    registries.push(r);
    return r;
  };
  const manager = (
    r: Registry,
    cfg: string,
    n: number,
    opts: { dual?: boolean; state?: string; previous?: string } = {},
  ) =>
    new SubnetManager(
      r,
      parseNetworkConfig(cfg),
      attrs(n, opts.dual ?? true),
      3600,
      opts.state ?? join(dir, `state-${n}-${Math.random()}.json`),
      opts.previous
        ? { subnet: parseCIDR(opts.previous.split('&')[0]), subnet6: parseCIDR(opts.previous.split('&')[1]) }
        : undefined,
      quiet,
    );

  beforeAll(async () => {
    etcd = await LocalEtcd.start();
    dir = mkdtempSync(join(tmpdir(), 'tscni-sm6-'));
  }, 30_000);
  afterAll(async () => {
    for (const r of registries) r.close();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives 8 nodes acquiring at once distinct IPv4 and IPv6 subnets, under flannel’s dual-stack keys and values', async () => {
    const r = registry('/dual');
    const got = await Promise.all(Array.from({ length: 8 }, (_, i) => manager(r, DUAL, i + 1).acquire()));
    expect(new Set(got.map((g) => formatCIDR(g.subnet))).size).toBe(8);
    expect(new Set(got.map((g) => formatCIDR(g.subnet6!))).size).toBe(8);
    for (const g of got) expect(g.subnet6!.prefix).toBe(64);
    const raw = await r.client.getAll().prefix('/dual/subnets/').strings();
    expect(Object.keys(raw)).toHaveLength(8);
    for (const [key, value] of Object.entries(raw)) {
      expect(key).toMatch(/^\/dual\/subnets\/10\.90\.\d+\.0-24&fd00:90:0:[0-9a-f]+::-64$/);
      const v = JSON.parse(value);
      expect(Object.keys(v)).toEqual(['PublicIP', 'PublicIPv6', 'BackendType', 'BackendData', 'BackendV6Data']);
      expect(v.PublicIPv6).toMatch(/^2001:db8::/);
      expect(v.BackendV6Data.VtepMAC).toMatch(/^06:/);
    }
    const { leases } = await r.getLeases();
    expect(leases.every((l) => l.subnet6 && l.attrs.PublicIPv6)).toBe(true);
  });

  it('keeps both subnets across a restart (found by PublicIP) and renews under the same key', async () => {
    const r = registry('/keep6');
    const first = await manager(r, DUAL, 1).acquire();
    const m = manager(r, DUAL, 1);
    const again = await m.acquire();
    expect([formatCIDR(again.subnet), formatCIDR(again.subnet6!)]).toEqual([
      formatCIDR(first.subnet),
      formatCIDR(first.subnet6!),
    ]);
    await m.renew();
    const { leases } = await r.getLeases();
    expect(leases).toHaveLength(1);
    expect(m.holds(leases)).toBe(true);
  });

  it('replaces a node’s v4-only lease when IPv6 is switched on: same IPv4 subnet, an IPv6 one added, the old key gone', async () => {
    const r = registry('/switch');
    const state = join(dir, 'switch-state.json');
    const v4 = await manager(r, V4, 5, { dual: false, state }).acquire();
    expect(v4.subnet6).toBeUndefined();
    const dual = await manager(r, DUAL, 5, { state }).acquire();
    expect(formatCIDR(dual.subnet)).toBe(formatCIDR(v4.subnet));
    expect(dual.subnet6).toBeDefined();
    const keys = Object.keys(await r.client.getAll().prefix('/switch/subnets/').strings());
    expect(keys).toEqual([
      `/switch/subnets/${formatCIDR(v4.subnet).replace('/', '-')}&${formatCIDR(dual.subnet6!).replace('/', '-')}`,
    ]);
  });

  it('never lets one IPv4 subnet be held under two keys (a v4-only and a dual-stack one)', async () => {
    const r = registry('/once');
    const s = parseCIDR('10.90.7.0/24')!;
    const l1 = await r.grant(60);
    expect(await r.putLease(s, attrs(1), l1, undefined, parseCIDR('fd00:90:0:7::/64'))).toBeDefined();
    const l2 = await r.grant(60);
    expect(await r.putLease(s, attrs(2, false), l2)).toBeUndefined();
    expect(await r.putLease(s, attrs(2), l2, undefined, parseCIDR('fd00:90:0:8::/64'))).toBeUndefined();
    expect(
      await r.putLease(parseCIDR('10.90.70.0/24')!, attrs(2), l2, undefined, parseCIDR('fd00:90:0:70::/64')),
    ).toBeDefined();
  });

  it('takes the subnets a previous run wrote to subnet.env when they are free, and loses the lease when another node took the IPv6 one', async () => {
    const r = registry('/prev6');
    const m = manager(r, DUAL, 9, { previous: '10.90.17.0/24&fd00:90:0:42::/64' });
    const own = await m.acquire();
    expect([formatCIDR(own.subnet), formatCIDR(own.subnet6!)]).toEqual(['10.90.17.0/24', 'fd00:90:0:42::/64']);
    await r.revoke(own.etcdLease); // expired
    const thief = await r.grant(60);
    expect(await r.putLease(parseCIDR('10.90.99.0/24')!, attrs(66), thief, undefined, own.subnet6)).toBeDefined();
    await expect(m.renew()).rejects.toThrow(SubnetLostError);
  });
});
