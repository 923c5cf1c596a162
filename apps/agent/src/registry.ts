/**
 * flannel's etcd schema through the etcd3 client: the network config, the subnet leases (each key
 * attached to an etcd lease of its own), compare-and-swap writes and a watch on the subnets prefix.
 */
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions, type Watcher } from 'etcd3';
import type { CIDR } from '@tscni/net/host';
import { parseLeaseAttrs, type Lease, type LeaseAttrs } from './lease';
import { subnetFromKey, subnetKey } from './network';
import type { AgentFlags } from './flags';

/** Per-call deadline: a call to an unreachable cluster fails in this time rather than hanging. */
const CALL_TIMEOUT_MS = 5_000;

export interface WatchHandlers {
  /** Something under `<prefix>/subnets/` changed (key without prefix, or undefined for "resync"). */
  changed(subnetKey?: string): void;
  connected(): void;
  disconnected(err: Error): void;
}

export class Registry {
  readonly client: Etcd3;
  private readonly subnetsPrefix: string;
  private readonly configKey: string;

  constructor(flags: AgentFlags) {
    const prefix = flags.etcdPrefix.replace(/\/+$/, '');
    this.configKey = `${prefix}/config`;
    this.subnetsPrefix = `${prefix}/subnets/`;
    const options: IOptions = {
      hosts: flags.etcdEndpoints,
      dialTimeout: CALL_TIMEOUT_MS,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
    };
    if (flags.etcdCafile || flags.etcdCertfile) {
      options.credentials = {
        rootCertificate: flags.etcdCafile ? readFileSync(flags.etcdCafile) : Buffer.alloc(0),
        ...(flags.etcdCertfile ? { certChain: readFileSync(flags.etcdCertfile), privateKey: readFileSync(flags.etcdKeyfile!) } : {}),
      };
    }
    if (flags.etcdUsername) options.auth = { username: flags.etcdUsername, password: flags.etcdPassword ?? '' };
    this.client = new Etcd3(options);
  }

  /** The network config text, or undefined when the key is absent. */
  async getConfig(): Promise<string | undefined> {
    return (await this.client.get(this.configKey).string()) ?? undefined;
  }

  /** Every well-formed lease, and the store's revision at the time of the read. */
  async getLeases(): Promise<{ leases: Lease[]; revision: string }> {
    const res = await this.client.getAll().prefix(this.subnetsPrefix).exec();
    const leases: Lease[] = [];
    for (const kv of res.kvs) {
      const subnet = subnetFromKey(kv.key.toString().slice(this.subnetsPrefix.length));
      const attrs = parseLeaseAttrs(kv.value.toString());
      if (subnet && attrs) leases.push({ subnet, attrs, revision: kv.mod_revision, etcdLease: kv.lease });
    }
    return { leases, revision: res.header.revision };
  }

  /** A new etcd lease of `ttl` seconds; returns its id. */
  async grant(ttl: number): Promise<string> {
    const res = await this.client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 });
    return res.ID;
  }

  async revoke(id: string): Promise<void> {
    if (id === '0') return;
    await this.client.leaseClient.leaseRevoke({ ID: id }).catch((err: Error) => {
      if (!/not found/i.test(err.message)) throw err;
    });
  }

  /**
   * Write the lease for `subnet` attached to etcd lease `etcdLease`, only if the key is absent
   * (`expectRevision` undefined) or still at `expectRevision`. Returns the key's new revision, or
   * undefined when the condition failed (another node got there first).
   */
  async putLease(subnet: CIDR, attrs: LeaseAttrs, etcdLease: string, expectRevision?: string): Promise<string | undefined> {
    const key = this.subnetsPrefix + subnetKey(subnet);
    const cond = expectRevision === undefined ? this.client.if(key, 'Create', '==', 0) : this.client.if(key, 'Mod', '==', expectRevision);
    const res = await cond.then(this.client.put(key).value(JSON.stringify(attrs)).lease(etcdLease)).commit();
    return res.succeeded ? res.header.revision : undefined;
  }

  /** Remove the lease of `subnet` if it is still the one at `revision`. */
  async deleteLease(subnet: CIDR, revision: string): Promise<void> {
    const key = this.subnetsPrefix + subnetKey(subnet);
    await this.client.if(key, 'Mod', '==', revision).then(this.client.delete().key(key)).commit();
  }

  /** Watch the subnets prefix; the etcd3 client reconnects the stream itself (reported as disconnected/connected). */
  async watch(handlers: WatchHandlers): Promise<Watcher> {
    const watcher = await this.client.watch().prefix(this.subnetsPrefix).create();
    const keyOf = (k: Buffer) => k.toString().slice(this.subnetsPrefix.length);
    watcher.on('put', (kv) => handlers.changed(keyOf(kv.key)));
    watcher.on('delete', (kv) => handlers.changed(keyOf(kv.key)));
    watcher.on('disconnected', (err) => handlers.disconnected(err));
    watcher.on('connected', () => handlers.connected());
    watcher.on('error', (err) => handlers.disconnected(err));
    return watcher;
  }

  close(): void {
    this.client.close();
  }
}
