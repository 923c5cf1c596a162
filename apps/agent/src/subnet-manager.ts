/**
 * This node's lease, as flannel's etcd subnet manager handles it: keep the subnet the node had (its lease
 * found by PublicIP, else the one remembered in the state file or subnet.env, when free), else take a
 * random free one of the first 100; every write is an etcd transaction (create only if absent, or
 * replace only if unchanged since read), so two nodes never get one subnet. Renewal attaches the key to a
 * new etcd lease of the full TTL, then revokes the old one.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatCIDR, parseCIDR, type CIDR } from '@tscni/net/host';
import { sameAttrs, type Lease, type LeaseAttrs } from './lease';
import { candidateSubnets, inNetwork, inPool, ipv6Compatible, sameSubnet, type NetworkConfig } from './network';
import type { Registry } from './registry';
import type { Logger } from './log';

export interface OwnLease {
  subnet: CIDR;
  /** The IPv6 subnet, on a dual-stack network (part of the key: 10.244.1.0-24&fd00:…-64). */
  subnet6?: CIDR;
  etcdLease: string;
  revision: string;
  /** Epoch ms at which etcd drops the key unless renewed. */
  expiresAt: number;
}

/** The subnet was taken by another node while ours had expired: pods of the old subnet cannot stay. */
export class SubnetLostError extends Error {
  override name = 'SubnetLostError';
}

const MAX_ATTEMPTS = 10;

export class SubnetManager {
  own?: OwnLease;
  /** Whether the last write took the subnet anew (rather than renewing a lease that was there). */
  acquiredAnew = false;

  constructor(
    private readonly registry: Registry,
    private readonly cfg: NetworkConfig,
    private readonly attrs: LeaseAttrs,
    private readonly ttl: number,
    private readonly stateFile: string,
    /** What subnet.env of a previous run says (FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET). */
    private readonly previous: { subnet?: CIDR; subnet6?: CIDR } | undefined,
    private readonly log: Logger,
  ) {}

  async acquire(): Promise<OwnLease> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const { leases } = await this.registry.getLeases();
      const mine = leases.find(
        (l) =>
          l.attrs.PublicIP === this.attrs.PublicIP &&
          l.attrs.BackendType === this.attrs.BackendType &&
          inNetwork(this.cfg, l.subnet),
      );
      if (mine && !ipv6Compatible(this.cfg, mine.subnet6)) {
        // flannel's way when IPv6 was switched on or off: the old key goes; the IPv4 subnet is taken again below.
        await this.registry.deleteLease(mine.subnet, mine.revision, mine.subnet6);
        this.log.info('lease dropped (IPv6 setting changed)', {
          subnet: formatCIDR(mine.subnet),
          subnet6: mine.subnet6 && formatCIDR(mine.subnet6),
        });
        this.remember(mine.subnet, undefined);
        continue;
      }
      if (mine) {
        const got = await this.write(mine.subnet, mine.subnet6, mine.revision);
        if (got) return this.took(got, 'lease kept (found by PublicIP)', mine.etcdLease);
        continue;
      }
      const taken = (s: CIDR) => leases.some((l) => sameSubnet(l.subnet, s));
      const state = this.remembered();
      const remembered = state?.subnet ?? this.previous?.subnet;
      // Our own old lease under the address we had before (the node's public IP changed): take it over.
      const old =
        state &&
        leases.find(
          (l) =>
            sameSubnet(l.subnet, state.subnet) &&
            l.attrs.PublicIP === state.publicIP &&
            ipv6Compatible(this.cfg, l.subnet6),
        );
      if (old) {
        const got = await this.write(old.subnet, old.subnet6, old.revision);
        if (got) return this.took(got, `lease kept (public IP changed from ${state.publicIP})`, old.etcdLease);
        continue;
      }
      if (remembered && inNetwork(this.cfg, remembered) && !taken(remembered)) {
        const got = await this.write(
          remembered,
          this.pick6(leases, remembered, state?.subnet6 ?? this.previous?.subnet6),
        );
        if (got) return this.took(got, 'lease re-acquired (remembered subnet)');
        continue;
      }
      const free: CIDR[] = [];
      for (const s of candidateSubnets(this.cfg)) {
        if (!taken(s)) free.push(s);
        if (free.length === 100) break;
      }
      if (!free.length)
        throw new Error(`no free subnet left in ${formatCIDR(this.cfg.network)} (SubnetLen ${this.cfg.subnetLen})`);
      const subnet = free[Math.floor(Math.random() * free.length)];
      const got = await this.write(subnet, this.pick6(leases, subnet));
      if (got) return this.took(got, 'lease acquired');
    }
    throw new Error(`gave up acquiring a subnet after ${MAX_ATTEMPTS} conflicting attempts`);
  }

  /**
   * Renew: re-attach our key to a fresh etcd lease. When the key is gone (expired, deleted), take the
   * same subnet again if it is free; when another node holds it now, throw SubnetLostError.
   */
  async renew(): Promise<OwnLease> {
    const own = this.own!;
    const { leases } = await this.registry.getLeases();
    const current = leases.find((l) => sameSubnet(l.subnet, own.subnet));
    if (current && current.attrs.PublicIP !== this.attrs.PublicIP) {
      throw new SubnetLostError(
        `subnet ${formatCIDR(own.subnet)} now belongs to ${current.attrs.PublicIP}: this node's lease expired and was taken; restart the agent to get a new subnet (and recreate the pods)`,
      );
    }
    const thief6 =
      own.subnet6 &&
      leases.find((l) => l.subnet6 && sameSubnet(l.subnet6, own.subnet6!) && !sameSubnet(l.subnet, own.subnet));
    if (thief6)
      throw new SubnetLostError(
        `IPv6 subnet ${formatCIDR(own.subnet6!)} now belongs to ${thief6.attrs.PublicIP}: this node's lease expired and was taken; restart the agent`,
      );
    const got = await this.write(
      own.subnet,
      own.subnet6,
      current && sameKey(current, own) ? current.revision : undefined,
    );
    if (!got) throw new Error(`lease ${formatCIDR(own.subnet)} changed while renewing; retrying`);
    return this.took(got, current ? 'lease renewed' : 'lease re-acquired after it expired', current?.etcdLease);
  }

  /** Whether the leases just read still hold ours as we wrote it. */
  holds(leases: Lease[]): boolean {
    const own = this.own;
    const l = own && leases.find((x) => sameKey(x, own));
    return !!l && sameAttrs(l.attrs, this.attrs);
  }

  /** Give the subnet back (clean shutdown with -cleanup-on-exit). */
  async release(): Promise<void> {
    if (!this.own) return;
    await this.registry.deleteLease(this.own.subnet, this.own.revision, this.own.subnet6);
    await this.registry.revoke(this.own.etcdLease);
    rmSync(this.stateFile, { force: true });
    this.log.info('lease released', { subnet: formatCIDR(this.own.subnet) });
    this.own = undefined;
  }

  /**
   * The IPv6 subnet to lease with `subnet` (none on a v4-only network): the one this node had if free,
   * else the one at the IPv4 subnet's position in its pool (so nodes with distinct IPv4 subnets pick
   * distinct IPv6 ones), else a random free one of the first 100, as flannel picks.
   */
  private pick6(leases: Lease[], subnet: CIDR, had?: CIDR): CIDR | undefined {
    const pool = this.cfg.ipv6;
    if (!pool) return undefined;
    const taken = (s: CIDR) => leases.some((l) => l.subnet6 && sameSubnet(l.subnet6, s));
    if (had && inPool(pool, had) && !taken(had)) return had;
    const index = (subnet.ip.value - this.cfg.subnetMin.ip.value) >> BigInt(32 - this.cfg.subnetLen);
    const same = {
      ip: { family: 6 as const, value: pool.subnetMin.ip.value + (index << BigInt(128 - pool.subnetLen)) },
      prefix: pool.subnetLen,
    };
    if (inPool(pool, same) && !taken(same)) return same;
    const free: CIDR[] = [];
    for (const s of candidateSubnets(pool)) {
      if (!taken(s)) free.push(s);
      if (free.length === 100) break;
    }
    if (!free.length)
      throw new Error(`no free IPv6 subnet left in ${formatCIDR(pool.network)} (IPv6SubnetLen ${pool.subnetLen})`);
    return free[Math.floor(Math.random() * free.length)];
  }

  private async write(subnet: CIDR, subnet6: CIDR | undefined, expectRevision?: string): Promise<OwnLease | undefined> {
    const etcdLease = await this.registry.grant(this.ttl);
    const revision = await this.registry.putLease(subnet, this.attrs, etcdLease, expectRevision, subnet6);
    if (revision === undefined) {
      await this.registry.revoke(etcdLease).catch(() => {});
      return undefined;
    }
    return { subnet, subnet6, etcdLease, revision, expiresAt: Date.now() + this.ttl * 1000 };
  }

  private async took(lease: OwnLease, msg: string, oldEtcdLease?: string): Promise<OwnLease> {
    this.own = lease;
    this.acquiredAnew = msg !== 'lease renewed';
    if (oldEtcdLease && oldEtcdLease !== lease.etcdLease) await this.registry.revoke(oldEtcdLease).catch(() => {});
    this.remember(lease.subnet, lease.subnet6);
    const v6 = lease.subnet6
      ? {
          subnet6: formatCIDR(lease.subnet6),
          publicIPv6: this.attrs.PublicIPv6,
          vtepMACv6: this.attrs.BackendV6Data?.VtepMAC,
        }
      : {};
    const fields = {
      subnet: formatCIDR(lease.subnet),
      ...v6,
      publicIP: this.attrs.PublicIP,
      backend: this.attrs.BackendType,
      vtepMAC: this.attrs.BackendData?.VtepMAC,
      ttl: this.ttl,
    };
    this.log.info(msg, fields);
    return lease;
  }

  private remembered(): { subnet: CIDR; subnet6?: CIDR; publicIP?: string } | undefined {
    try {
      const s = JSON.parse(readFileSync(this.stateFile, 'utf8')) as {
        subnet?: string;
        subnet6?: string;
        publicIP?: string;
      };
      const subnet = typeof s.subnet === 'string' ? parseCIDR(s.subnet) : undefined;
      const subnet6 = typeof s.subnet6 === 'string' ? parseCIDR(s.subnet6) : undefined;
      return subnet && inNetwork(this.cfg, subnet)
        ? { subnet, subnet6, publicIP: typeof s.publicIP === 'string' ? s.publicIP : undefined }
        : undefined;
    } catch {
      return undefined;
    }
  }

  private remember(subnet: CIDR, subnet6: CIDR | undefined): void {
    mkdirSync(dirname(this.stateFile), { recursive: true });
    const tmp = `${this.stateFile}.tmp-${process.pid}`;
    writeFileSync(
      tmp,
      JSON.stringify({
        subnet: formatCIDR(subnet),
        ...(subnet6 ? { subnet6: formatCIDR(subnet6) } : {}),
        publicIP: this.attrs.PublicIP,
      }) + '\n',
    );
    renameSync(tmp, this.stateFile);
  }
}

/** Whether a lease read from etcd is under the same key as ours (same IPv4 and IPv6 subnets). */
const sameKey = (l: Lease, own: OwnLease): boolean =>
  sameSubnet(l.subnet, own.subnet) &&
  (l.subnet6 && own.subnet6 ? sameSubnet(l.subnet6, own.subnet6) : !l.subnet6 && !own.subnet6);
