/**
 * flannel's etcd schema through the etcd3 client: the network config, the subnet leases (each key
 * attached to an etcd lease of its own), compare-and-swap writes and a watch on the subnets prefix; and, for
 * the policy controller, a read and a watch of any prefix.
 * Every failure is thrown (or reported by the watch) as the sentence the CLI and the harness give for it.
 */
import type { Etcd3, ICompare, Watcher } from 'etcd3';
import { EtcdFailures } from '@tscni/etcd';
import { etcdClient, type KeyValue } from '@tscni/etcd/client';
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

export interface PrefixWatchHandlers {
  changed(key: string): void;
  connected(): void;
  disconnected(err: Error): void;
}

/** What the policy controller reads etcd through. */
export type PrefixReader = Pick<Registry, 'listPrefix' | 'watchPrefix'>;

export class Registry {
  readonly client: Etcd3;
  private readonly subnetsPrefix: string;
  private readonly configKey: string;
  private readonly failures: EtcdFailures;

  constructor(flags: AgentFlags) {
    const prefix = flags.etcdPrefix.replace(/\/+$/, '');
    this.configKey = `${prefix}/config`;
    this.subnetsPrefix = `${prefix}/subnets/`;
    const {
      etcdEndpoints: endpoints,
      etcdCafile: cafile,
      etcdCertfile: certfile,
      etcdKeyfile: keyfile,
      etcdUsername: username,
      etcdPassword: password,
    } = flags;
    const config = { endpoints, cafile, certfile, keyfile, username, password };
    this.client = etcdClient(config, { dash: '-', callTimeoutMs: CALL_TIMEOUT_MS });
    this.failures = new EtcdFailures(config, '-');
  }

  /** The network config text, or undefined when the key is absent. */
  async getConfig(): Promise<string | undefined> {
    return (await this.failures.call(() => this.client.get(this.configKey).string())) ?? undefined;
  }

  /** Every well-formed lease, and the store's revision at the time of the read. */
  async getLeases(): Promise<{ leases: Lease[]; revision: string }> {
    const res = await this.failures.call(() => this.client.getAll().prefix(this.subnetsPrefix).exec());
    const leases: Lease[] = [];
    for (const kv of res.kvs) {
      const key = subnetFromKey(kv.key.toString().slice(this.subnetsPrefix.length));
      const attrs = parseLeaseAttrs(kv.value.toString());
      // A dual-stack lease carries its IPv6 address and data; a v4-only key with them (or the reverse) is malformed.
      if (key && attrs && !!key.subnet6 === !!attrs.PublicIPv6)
        leases.push({ ...key, attrs, revision: kv.mod_revision, etcdLease: kv.lease });
    }
    return { leases, revision: res.header.revision };
  }

  /** A new etcd lease of `ttl` seconds; returns its id. */
  async grant(ttl: number): Promise<string> {
    const res = await this.failures.call(() => this.client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 }));
    return res.ID;
  }

  async revoke(id: string): Promise<void> {
    if (id === '0') return;
    await this.failures.call(() =>
      this.client.leaseClient.leaseRevoke({ ID: id }).catch((err: Error) => {
        if (!/not found/i.test(err.message)) throw err;
      }),
    );
  }

  /**
   * Write the lease for `subnet` (and `subnet6`) attached to etcd lease `etcdLease`, only if no key for
   * the IPv4 subnet exists (`expectRevision` undefined: a range compare over `10.244.1.0-24` and every
   * dual-stack `10.244.1.0-24&…`, so two nodes never hold one IPv4 subnet under different keys) or if the
   * key is still at `expectRevision`. Returns the key's new revision, or undefined when the condition
   * failed (another node got there first).
   */
  async putLease(
    subnet: CIDR,
    attrs: LeaseAttrs,
    etcdLease: string,
    expectRevision?: string,
    subnet6?: CIDR,
  ): Promise<string | undefined> {
    const key = Buffer.from(this.subnetsPrefix + subnetKey(subnet, subnet6));
    const put = { request_put: { key, value: Buffer.from(JSON.stringify(attrs)), lease: etcdLease } };
    const compare: ICompare =
      expectRevision === undefined
        ? {
            key: Buffer.from(this.subnetsPrefix + subnetKey(subnet)),
            range_end: prefixEnd(this.subnetsPrefix + subnetKey(subnet)),
            target: 'Create',
            result: 'Equal',
            create_revision: 0,
          }
        : { key, target: 'Mod', result: 'Equal', mod_revision: expectRevision };
    const res = await this.failures.call(() => this.client.kv.txn({ compare: [compare], success: [put] }));
    return res.succeeded ? res.header.revision : undefined;
  }

  /** Remove the lease of `subnet` (and `subnet6`) if it is still the one at `revision`. */
  async deleteLease(subnet: CIDR, revision: string, subnet6?: CIDR): Promise<void> {
    const key = this.subnetsPrefix + subnetKey(subnet, subnet6);
    await this.failures.call(() =>
      this.client.if(key, 'Mod', '==', revision).then(this.client.delete().key(key)).commit(),
    );
  }

  /** Watch the subnets prefix; the etcd3 client reconnects the stream itself (reported as disconnected/connected). */
  async watch(handlers: WatchHandlers): Promise<Watcher> {
    const watcher = await this.watchPrefix(this.subnetsPrefix, {
      changed: (key) => handlers.changed(key.slice(this.subnetsPrefix.length)),
      connected: () => handlers.connected(),
      disconnected: (err) => handlers.disconnected(err),
    });
    return watcher;
  }

  /** Every key under `prefix` with its value. */
  async listPrefix(prefix: string): Promise<KeyValue[]> {
    const res = await this.failures.call(() => this.client.getAll().prefix(prefix).exec());
    return res.kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString() }));
  }

  /** Watch every key under `prefix` (`changed` gets the whole key); failures come as the CLI's sentence. */
  async watchPrefix(prefix: string, handlers: PrefixWatchHandlers): Promise<Watcher> {
    const watcher = await this.failures.call(() => this.client.watch().prefix(prefix).create());
    watcher.on('put', (kv) => handlers.changed(kv.key.toString()));
    watcher.on('delete', (kv) => handlers.changed(kv.key.toString()));
    watcher.on('disconnected', (err) => handlers.disconnected(this.failures.explain(err)));
    watcher.on('connected', () => handlers.connected());
    watcher.on('error', (err) => handlers.disconnected(this.failures.explain(err)));
    return watcher;
  }

  close(): void {
    this.client.close();
  }
}

/** The end of the key range of every key starting with `prefix` (its last byte plus one). */
function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  b[b.length - 1]++;
  return b;
}
