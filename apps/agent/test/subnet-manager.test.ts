/**
 * The etcd subnet manager against a real etcd (Debian's 3.4, on 127.0.0.1): race-free allocation between
 * many nodes at once, keeping a subnet across restarts, renewal, re-acquisition after expiry, losing the
 * subnet to another node, and TLS with client certificates.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCIDR } from '@tscni/net/host';
import { missingForKernelTests } from '@tscni/testing/node';
import { defaults, type AgentFlags } from '../src/flags';
import { parseNetworkConfig } from '../src/network';
import { Registry } from '../src/registry';
import { SubnetLostError, SubnetManager } from '../src/subnet-manager';
import type { LeaseAttrs } from '../src/lease';
import type { Logger } from '../src/log';
import { LocalEtcd } from '@tscni/testing/etcd';

// etcd (etcd-server) and openssl must be installed: without them the suite fails rather than skips.
const missing = missingForKernelTests([]);
const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };
const attrs = (ip: string): LeaseAttrs => ({ PublicIP: ip, BackendType: 'host-gw', BackendData: null });

describe.skipIf(!!missing)(`the etcd subnet manager${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let etcd: LocalEtcd;
  let dir: string;
  const registries: Registry[] = [];
  const registry = (prefix: string, extra: Partial<AgentFlags> = {}) => {
    const r = new Registry({ ...defaults(), etcdEndpoints: [etcd.endpoint], etcdPrefix: prefix, ...extra });
    registries.push(r);
    return r;
  };
  let n = 0;
  const manager = (r: Registry, cfgJson: string, ip: string, ttl = 3600) =>
    new SubnetManager(r, parseNetworkConfig(cfgJson), attrs(ip), ttl, join(dir, `state-${n++}.json`), undefined, quiet);

  beforeAll(async () => {
    etcd = await LocalEtcd.start();
    dir = mkdtempSync(join(tmpdir(), 'tscni-sm-'));
  }, 30_000);
  afterAll(async () => {
    for (const r of registries) r.close();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives 12 nodes acquiring at once the 12 subnets there are, all distinct, and a 13th node an error', async () => {
    // 10.50.0.0/26 in /30s from SubnetMin .16 to SubnetMax .60: 12 subnets, 12 nodes racing for them.
    const cfg = '{"Network":"10.50.0.0/26","SubnetLen":30,"SubnetMin":"10.50.0.16","Backend":{"Type":"host-gw"}}';
    const r = registry('/race');
    const got = await Promise.all(Array.from({ length: 12 }, (_, i) => manager(r, cfg, `192.0.2.${i + 1}`).acquire()));
    expect(new Set(got.map((g) => formatCIDR(g.subnet))).size).toBe(12);
    const { leases } = await r.getLeases();
    expect(leases).toHaveLength(12);
    await expect(manager(r, cfg, '192.0.2.99').acquire()).rejects.toThrow(/no free subnet left in 10.50.0.0\/26/);
  });

  it('keeps a node’s subnet across restarts (found by PublicIP) and renews onto a fresh etcd lease', async () => {
    const cfg = '{"Network":"10.60.0.0/16","Backend":{"Type":"host-gw"}}';
    const r = registry('/keep');
    const first = await manager(r, cfg, '192.0.2.1').acquire();
    const m2 = manager(r, cfg, '192.0.2.1');
    const second = await m2.acquire();
    expect(formatCIDR(second.subnet)).toBe(formatCIDR(first.subnet));
    expect(second.etcdLease).not.toBe(first.etcdLease);
    const renewed = await m2.renew();
    expect(renewed.etcdLease).not.toBe(second.etcdLease);
    const { leases } = await r.getLeases();
    expect(leases.map((l) => [formatCIDR(l.subnet), l.etcdLease])).toEqual([
      [formatCIDR(first.subnet), renewed.etcdLease],
    ]);
  });

  it('re-acquires the same subnet after the lease expired, and gives up (SubnetLostError) when another node took it', async () => {
    const cfg = '{"Network":"10.70.0.0/16","Backend":{"Type":"host-gw"}}';
    const r = registry('/expire');
    const m = manager(r, cfg, '192.0.2.1', 5);
    const own = await m.acquire();
    await r.revoke(own.etcdLease); // as if the TTL ran out
    expect((await r.getLeases()).leases).toEqual([]);
    const back = await m.renew();
    expect(formatCIDR(back.subnet)).toBe(formatCIDR(own.subnet));
    await r.revoke(back.etcdLease);
    const thief = await r.grant(60);
    expect(await r.putLease(own.subnet, attrs('192.0.2.66'), thief)).toBeDefined();
    await expect(m.renew()).rejects.toThrow(SubnetLostError);
  });

  it('talks TLS with client certificates (-etcd-cafile, -etcd-certfile, -etcd-keyfile); a refused certificate is explained', async () => {
    const secure = await LocalEtcd.start({ tls: true });
    try {
      const tls = secure.tls!;
      const r = new Registry({
        ...defaults(),
        etcdEndpoints: [secure.endpoint],
        etcdCafile: tls.ca,
        etcdCertfile: tls.cert,
        etcdKeyfile: tls.key,
      });
      await r.client.put('/coreos.com/network/config').value('{"Network":"10.80.0.0/16"}');
      expect(await r.getConfig()).toBe('{"Network":"10.80.0.0/16"}');
      r.close();
      // A refused client certificate is the sentence the CLI and the harness give, with the agent's flag names.
      const plain = new Registry({ ...defaults(), etcdEndpoints: [secure.endpoint], etcdCafile: tls.ca });
      await expect(plain.getConfig()).rejects.toThrow(
        `etcd at ${secure.endpoint} refused the client certificate (TLS alert "bad certificate"): etcd checks client certificates: give -etcd-certfile and -etcd-keyfile`,
      );
      plain.close();
      const foreign = new Registry({
        ...defaults(),
        etcdEndpoints: [secure.endpoint],
        etcdCafile: tls.ca,
        etcdCertfile: secure.foreign!.cert,
        etcdKeyfile: secure.foreign!.key,
      });
      await expect(foreign.getLeases()).rejects.toThrow(
        `etcd at ${secure.endpoint} refused the client certificate (TLS alert "bad certificate"): -etcd-certfile ${secure.foreign!.cert} is not signed by a CA that etcd trusts (its --trusted-ca-file)`,
      );
      foreign.close();
    } finally {
      await secure.stop();
    }
  });
});
