/**
 * The etcd3 (gRPC) client built from an EtcdConfig, and EtcdKV: the few key-value calls the CLI and the
 * harness make, with failures explained (EtcdFailures). A separate entry point from the config checks:
 * loading etcd3 parses its protos, which a program pays only when it talks to etcd.
 */
import { Etcd3, type IOptions } from 'etcd3';
import { readEtcdTls, type EtcdConfig, type FlagDash } from './config';
import { EtcdFailures } from './errors';

export interface ClientOptions {
  dash?: FlagDash;
  /** Per-call deadline: a call to an unreachable cluster fails in this time rather than hanging (default 5 s). */
  callTimeoutMs?: number;
}

/** etcd3's options; throws EtcdConfigError for bad settings or unreadable TLS files. */
export function etcdClientOptions(c: EtcdConfig, opts: ClientOptions = {}): IOptions {
  const timeout = opts.callTimeoutMs ?? 5_000;
  const tls = readEtcdTls(c, opts.dash);
  const options: IOptions = {
    hosts: c.endpoints.map((e) => e.replace(/\/$/, '')),
    dialTimeout: timeout,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
  };
  // Without a CA file, grpc falls back to the system's CAs (null root certificate).
  if (tls?.rootCertificate || tls?.certChain)
    options.credentials = {
      rootCertificate: tls.rootCertificate ?? (null as unknown as Buffer),
      ...(tls.certChain ? { certChain: tls.certChain, privateKey: tls.privateKey } : {}),
    };
  if (c.username) options.auth = { username: c.username, password: c.password ?? '' };
  return options;
}

export const etcdClient = (c: EtcdConfig, opts: ClientOptions = {}): Etcd3 => new Etcd3(etcdClientOptions(c, opts));

export interface KeyValue {
  key: string;
  value: string;
}

export class EtcdKV {
  readonly client: Etcd3;
  private readonly failures: EtcdFailures;

  constructor(config: EtcdConfig, opts: ClientOptions = {}) {
    this.client = etcdClient(config, opts);
    this.failures = new EtcdFailures(config, opts.dash);
  }

  private call<T>(fn: () => Promise<T>): Promise<T> {
    return this.failures.call(fn);
  }

  async put(key: string, value: string): Promise<void> {
    await this.call(() => this.client.put(key).value(value).exec());
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.call(() => this.client.get(key).string())) ?? undefined;
  }

  /** Deletes `key` (or every key under it with `prefix`); returns how many were deleted. */
  async delete(key: string, prefix = false): Promise<number> {
    const r = await this.call(() => (prefix ? this.client.delete().prefix(key) : this.client.delete().key(key)).exec());
    return Number(r.deleted);
  }

  /** Every key under `prefix` with its value, in key order. */
  async list(prefix: string): Promise<KeyValue[]> {
    const r = await this.call(() => this.client.getAll().prefix(prefix).sort('Key', 'Ascend').exec());
    return r.kvs.map((kv) => ({ key: kv.key.toString('utf8'), value: kv.value.toString('utf8') }));
  }

  close(): void {
    this.client.close();
  }
}
