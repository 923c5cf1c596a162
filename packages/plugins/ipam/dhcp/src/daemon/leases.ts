import { existsSync } from 'node:fs';
import type { LeaseInfo, LeaseRequest } from '../rpc';
import { leaseInfo } from './ack';
import { Lease, type LeaseHooks, type LeaseRecord, type LeaseSettings } from './lease';
import { linkMac } from './pod-link';
import { LeaseStore } from './store';
import { validateLeaseRequest } from './validate';

/** Every lease the daemon maintains, keyed by client ID; calls for one client ID run one at a time. */
export class LeaseManager {
  private readonly leases = new Map<string, Lease>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly hooks: LeaseHooks;

  constructor(
    private readonly settings: LeaseSettings,
    private readonly store: LeaseStore,
    private readonly log: (msg: string) => void,
    /** `-hostprefix`: the host's root as seen by the daemon (prepended to netns paths). */
    private readonly hostPrefix = '',
  ) {
    this.hooks = {
      persist: (l) => this.store.save(l.record()),
      exclusive: (netns, fn) => this.serialized(`netns:${netns}`, fn),
      log,
    };
  }

  get size(): number {
    return this.leases.size;
  }

  /** ADD: reuse a live lease for this client ID, or acquire a new one. */
  allocate(request: LeaseRequest): Promise<LeaseInfo> {
    validateLeaseRequest(request);
    const req = { ...request, netns: this.hostPrefix + request.netns };
    return this.serialized(req.clientID, async () => {
      const held = this.leases.get(req.clientID);
      if (
        held &&
        held.binding &&
        held.state !== 'expired' &&
        held.req.netns === req.netns &&
        held.req.ifName === req.ifName
      ) {
        return leaseInfo(held.binding);
      }
      if (held) await this.drop(held);
      this.log(`${req.clientID}: acquiring lease`);
      const lease = new Lease(req, this.settings, this.hooks);
      try {
        await lease.acquire();
      } catch (err) {
        lease.detach();
        throw err;
      }
      this.leases.set(req.clientID, lease);
      return leaseInfo(lease.binding!);
    });
  }

  /** DEL: release and forget; an unknown client ID is fine. */
  release(clientID: string): Promise<void> {
    return this.serialized(clientID, async () => {
      const lease = this.leases.get(clientID);
      if (lease) await this.drop(lease);
      else this.store.remove(clientID);
    });
  }

  /** CHECK: a bound (or renewing) lease exists and, when given, holds `address`. */
  check(clientID: string, address?: string): Promise<void> {
    return this.serialized(clientID, async () => {
      const lease = this.leases.get(clientID);
      if (!lease?.binding) throw new Error(`no DHCP lease for ${clientID}`);
      if (lease.state === 'expired') throw new Error(`the DHCP lease of ${clientID} (${lease.binding.ip}) has expired`);
      const held = leaseInfo(lease.binding).address;
      if (address && address !== held) throw new Error(`the DHCP lease of ${clientID} is ${held}, not ${address}`);
    });
  }

  /** GC: release the leases of `network` whose (containerID, ifName) is not among `valid`. */
  async gc(network: string, valid: { containerID: string; ifname: string }[]): Promise<void> {
    const keep = new Set(valid.map((a) => `${a.containerID}\0${a.ifname}`));
    const stale = [...this.leases.values()].filter(
      (l) => l.req.network === network && !keep.has(`${l.req.containerID}\0${l.req.ifName}`),
    );
    for (const lease of stale) {
      this.log(`${lease.id}: not a valid attachment any more, releasing (GC)`);
      await this.release(lease.id);
    }
  }

  /** After a restart: pick up every persisted lease whose namespace and interface are still there. */
  async restore(parallel = 8): Promise<void> {
    const records = this.store.load();
    const worker = async () => {
      for (let rec = records.shift(); rec; rec = records.shift()) await this.restoreOne(rec);
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  }

  private async restoreOne(rec: LeaseRecord): Promise<void> {
    const { clientID, netns, ifName } = rec.req;
    try {
      validateLeaseRequest(rec.req);
      if (!rec.binding || rec.state === 'released') throw new Error('no binding');
      if (!existsSync(netns)) throw new Error(`netns ${netns} is gone`);
      const mac = await linkMac(netns, ifName);
      if (mac !== rec.mac) throw new Error(`${ifName} is gone or was replaced`);
      const lease = new Lease(rec.req, this.settings, this.hooks, rec.mac);
      lease.binding = rec.binding;
      lease.state = rec.state === 'init' ? 'bound' : rec.state;
      await lease.resume();
      this.leases.set(clientID, lease);
    } catch (err) {
      this.log(`${clientID}: not restored: ${(err as Error).message}`);
      this.store.remove(clientID);
    }
  }

  /** Daemon shutdown: stop the timers, keep the leases on disk for the next start. */
  detachAll(): void {
    for (const lease of this.leases.values()) lease.detach();
    this.leases.clear();
  }

  /** Release (DHCPRELEASE when still held) and forget. */
  private async drop(lease: Lease): Promise<void> {
    await lease.release();
    this.leases.delete(lease.id);
    this.store.remove(lease.id);
  }

  private serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return next;
  }
}
