/**
 * A few etcd v3 calls through etcd's JSON gateway (`POST /v3/kv/...`, keys and values base64), so the
 * CLI and the harness reach etcd with Node's fetch and no gRPC client. Endpoints are tried in turn;
 * plain HTTP or HTTPS with a CA the system trusts (no client certificates).
 */
import type { KV } from './schema';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/** The range end that makes `key` a prefix query (the key with its last byte incremented). */
function prefixEnd(key: string): string {
  const buf = Buffer.from(key, 'utf8');
  for (let i = buf.length - 1; i >= 0; i--) {
    if (buf[i] < 0xff) {
      const out = Buffer.from(buf.subarray(0, i + 1));
      out[i]++;
      return out.toString('base64');
    }
  }
  return b64('\0');
}

export class EtcdGatewayError extends Error {
  override name = 'EtcdGatewayError';
}

export class EtcdGateway {
  private readonly endpoints: string[];

  constructor(endpoints: string[], private readonly timeoutMs = 5000) {
    for (const e of endpoints) if (!/^https?:\/\/[^\s/]+\/?$/.test(e)) throw new EtcdGatewayError(`etcd endpoint ${JSON.stringify(e)} is not http(s)://host:port`);
    if (!endpoints.length) throw new EtcdGatewayError('no etcd endpoints');
    this.endpoints = endpoints.map((e) => e.replace(/\/$/, ''));
  }

  private async call(path: string, body: unknown): Promise<Record<string, unknown>> {
    const errors: string[] = [];
    for (const e of this.endpoints) {
      try {
        const res = await fetch(`${e}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(this.timeoutMs) });
        const text = await res.text();
        if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.trim()}`);
        return JSON.parse(text) as Record<string, unknown>;
      } catch (err) {
        errors.push(`${e}: ${(err as Error).message}`);
      }
    }
    throw new EtcdGatewayError(`etcd unreachable (${errors.join('; ')})`);
  }

  async put(key: string, value: string): Promise<void> {
    await this.call('/v3/kv/put', { key: b64(key), value: b64(value) });
  }

  /** Deletes `key` (or every key under it with `prefix`); returns how many were deleted. */
  async delete(key: string, prefix = false): Promise<number> {
    const r = await this.call('/v3/kv/deleterange', { key: b64(key), ...(prefix ? { range_end: prefixEnd(key) } : {}) });
    return Number(r.deleted ?? 0);
  }

  async get(key: string): Promise<string | undefined> {
    const r = await this.call('/v3/kv/range', { key: b64(key) });
    const kvs = (r.kvs ?? []) as { value?: string }[];
    return kvs.length ? unb64(kvs[0].value) : undefined;
  }

  async list(prefix: string): Promise<KV[]> {
    const r = await this.call('/v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix) });
    return ((r.kvs ?? []) as { key: string; value?: string }[]).map((kv) => ({ key: unb64(kv.key), value: unb64(kv.value) }));
  }
}
