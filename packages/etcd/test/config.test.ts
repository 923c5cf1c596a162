/** The settings checks and error sentences, in both flag spellings (the real TLS paths are tested against etcd by the CLI, the harness and the agent). */
import { describe, expect, it } from 'vitest';
import { EtcdError, EtcdFailures, etcdConfigProblems, explainEtcdError, lastError, readEtcdTls } from '../src/index';

describe('etcd settings', () => {
  it("names each problem with the program's flag spelling", () => {
    expect(etcdConfigProblems({ endpoints: ['http://a:1'] })).toEqual([]);
    expect(etcdConfigProblems({ endpoints: [] }, '-')).toEqual(['-etcd-endpoints is empty']);
    expect(etcdConfigProblems({ endpoints: ['https://a:1', 'http://b:2'], certfile: '/c' })).toEqual([
      '--etcd-endpoints mixes http:// and https:// endpoints',
      '--etcd-certfile and --etcd-keyfile go together',
    ]);
    expect(
      etcdConfigProblems({ endpoints: ['http://a:1'], cafile: '/ca', certfile: '/c', keyfile: '/k' }, '-'),
    ).toEqual(['-etcd-cafile, -etcd-certfile, -etcd-keyfile need https:// endpoints (-etcd-endpoints is http://a:1)']);
    expect(etcdConfigProblems({ endpoints: ['https://a:1'], cafile: '' })).toEqual(['--etcd-cafile is empty']);
  });

  it('reads no file for plain http, and refuses a directory', () => {
    expect(readEtcdTls({ endpoints: ['http://a:1'] })).toBeUndefined();
    expect(readEtcdTls({ endpoints: ['https://a:1'] })).toEqual({});
    expect(() => readEtcdTls({ endpoints: ['https://a:1'], cafile: '/' })).toThrow('--etcd-cafile / is not a file');
  });
});

describe('etcd errors', () => {
  const c = { endpoints: ['https://10.0.0.1:2379'], cafile: '/ca.crt', certfile: '/c.crt', keyfile: '/c.key' };
  it("keeps grpc's cause without timestamps and openssl locations", () => {
    const msg =
      '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 10.0.0.1:2379 (2026-12-02T11:25:16.733Z). Resolution note: ';
    expect(lastError(msg)).toBe('connect ECONNREFUSED 10.0.0.1:2379');
    expect(explainEtcdError(new Error(msg), c)).toBe(
      'etcd unreachable at https://10.0.0.1:2379: connect ECONNREFUSED 10.0.0.1:2379',
    );
  });

  it('says whose certificate was refused and which flag to fix', () => {
    const alert = new Error(
      '14 UNAVAILABLE: No connection established. Last error: 800C:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert certificate required:../deps/openssl/rec_layer_s3.c:1601:SSL alert number 116\n (2026-12-02T11:25:16.733Z). Resolution note: ',
    );
    expect(explainEtcdError(alert, { endpoints: c.endpoints }, '-')).toBe(
      'etcd at https://10.0.0.1:2379 refused the client certificate (TLS alert "certificate required"): etcd checks client certificates: give -etcd-certfile and -etcd-keyfile',
    );
    const untrusted = new Error(
      '14 UNAVAILABLE: No connection established. Last error: Error: self-signed certificate in certificate chain. Resolution note: ',
    );
    expect(explainEtcdError(untrusted, { endpoints: c.endpoints })).toBe(
      "etcd's server certificate at https://10.0.0.1:2379 is not trusted (self-signed certificate in certificate chain): give the CA that signed it with --etcd-cafile",
    );
  });

  it("a client's failures are thrown explained; once the circuit breaker opens, the last cause is kept", async () => {
    const failures = new EtcdFailures({ endpoints: c.endpoints }, '-');
    const refused = new Error(
      '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 10.0.0.1:2379. Resolution note: ',
    );
    const circuit = Object.assign(new Error('Execution prevented because the circuit breaker is open'), {
      name: 'BrokenCircuitError',
    });
    await expect(failures.call(() => Promise.resolve(7))).resolves.toBe(7);
    const first = await failures.call(() => Promise.reject(refused)).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(EtcdError);
    expect((first as Error).message).toBe(
      'etcd unreachable at https://10.0.0.1:2379: connect ECONNREFUSED 10.0.0.1:2379',
    );
    expect(failures.explain(circuit).message).toBe(
      'etcd unreachable at https://10.0.0.1:2379: connect ECONNREFUSED 10.0.0.1:2379 (calls paused for a few seconds after failing)',
    );
  });
});
