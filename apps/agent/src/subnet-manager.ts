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
import { candidateSubnets, inNetwork, sameSubnet, type NetworkConfig } from './network';
import type { Registry } from './registry';
import type { Logger } from './log';

export interface OwnLease {
  subnet: CIDR;
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
    private readonly previous: CIDR | undefined,
    private readonly log: Logger,
  ) {}

  async acquire(): Promise<OwnLease> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const { leases } = await this.registry.getLeases();
      const mine = leases.find((l) => l.attrs.PublicIP === this.attrs.PublicIP && l.attrs.BackendType === this.attrs.BackendType && inNetwork(this.cfg, l.subnet));
      if (mine) {
        const got = await this.write(mine.subnet, mine.revision);
        if (got) return this.took(got, 'lease kept (found by PublicIP)', mine.etcdLease);
        continue;
      }
      const taken = (s: CIDR) => leases.some((l) => sameSubnet(l.subnet, s));
      const state = this.remembered();
      const remembered = state?.subnet ?? this.previous;
      // Our own old lease under the address we had before (the node's public IP changed): take it over.
      const old = state && leases.find((l) => sameSubnet(l.subnet, state.subnet) && l.attrs.PublicIP === state.publicIP);
      if (old) {
        const got = await this.write(old.subnet, old.revision);
        if (got) return this.took(got, `lease kept (public IP changed from ${state.publicIP})`, old.etcdLease);
        continue;
      }
      if (remembered && inNetwork(this.cfg, remembered) && !taken(remembered)) {
        const got = await this.write(remembered);
        if (got) return this.took(got, 'lease re-acquired (remembered subnet)');
        continue;
      }
      const free: CIDR[] = [];
      for (const s of candidateSubnets(this.cfg)) {
        if (!taken(s)) free.push(s);
        if (free.length === 100) break;
      }
      if (!free.length) throw new Error(`no free subnet left in ${formatCIDR(this.cfg.network)} (SubnetLen ${this.cfg.subnetLen})`);
      const got = await this.write(free[Math.floor(Math.random() * free.length)]);
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
      throw new SubnetLostError(`subnet ${formatCIDR(own.subnet)} now belongs to ${current.attrs.PublicIP}: this node's lease expired and was taken; restart the agent to get a new subnet (and recreate the pods)`);
    }
    const got = await this.write(own.subnet, current?.revision);
    if (!got) throw new Error(`lease ${formatCIDR(own.subnet)} changed while renewing; retrying`);
    return this.took(got, current ? 'lease renewed' : 'lease re-acquired after it expired', current?.etcdLease);
  }

  /** Whether the leases just read still hold ours as we wrote it. */
  holds(leases: Lease[]): boolean {
    const own = this.own;
    const l = own && leases.find((x) => sameSubnet(x.subnet, own.subnet));
    return !!l && sameAttrs(l.attrs, this.attrs);
  }

  /** Give the subnet back (clean shutdown with -cleanup-on-exit). */
  async release(): Promise<void> {
    if (!this.own) return;
    await this.registry.deleteLease(this.own.subnet, this.own.revision);
    await this.registry.revoke(this.own.etcdLease);
    rmSync(this.stateFile, { force: true });
    this.log.info('lease released', { subnet: formatCIDR(this.own.subnet) });
    this.own = undefined;
  }

  private async write(subnet: CIDR, expectRevision?: string): Promise<OwnLease | undefined> {
    const etcdLease = await this.registry.grant(this.ttl);
    const revision = await this.registry.putLease(subnet, this.attrs, etcdLease, expectRevision);
    if (revision === undefined) {
      await this.registry.revoke(etcdLease).catch(() => {});
      return undefined;
    }
    return { subnet, etcdLease, revision, expiresAt: Date.now() + this.ttl * 1000 };
  }

  private async took(lease: OwnLease, msg: string, oldEtcdLease?: string): Promise<OwnLease> {
    this.own = lease;
    this.acquiredAnew = msg !== 'lease renewed';
    if (oldEtcdLease && oldEtcdLease !== lease.etcdLease) await this.registry.revoke(oldEtcdLease).catch(() => {});
    this.remember(lease.subnet);
    const fields = { subnet: formatCIDR(lease.subnet), publicIP: this.attrs.PublicIP, backend: this.attrs.BackendType, vtepMAC: this.attrs.BackendData?.VtepMAC, ttl: this.ttl };
    this.log.info(msg, fields);
    return lease;
  }

  private remembered(): { subnet: CIDR; publicIP?: string } | undefined {
    try {
      const s = JSON.parse(readFileSync(this.stateFile, 'utf8')) as { subnet?: string; publicIP?: string };
      const subnet = typeof s.subnet === 'string' ? parseCIDR(s.subnet) : undefined;
      return subnet && inNetwork(this.cfg, subnet) ? { subnet, publicIP: typeof s.publicIP === 'string' ? s.publicIP : undefined } : undefined;
    } catch {
      return undefined;
    }
  }

  private remember(subnet: CIDR): void {
    mkdirSync(dirname(this.stateFile), { recursive: true });
    const tmp = `${this.stateFile}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ subnet: formatCIDR(subnet), publicIP: this.attrs.PublicIP }) + '\n');
    renameSync(tmp, this.stateFile);
  }
}
