/** The optional pod publisher against a real etcd: what the agents' policy reads, written on run and removed on stop. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { missingForKernelTests } from '@tscni/testing/node';
import { EtcdKV } from '@tscni/etcd/client';
import { clusterFromKVs } from '@tscni/policy';
import { PodPublisher } from '../src/pod-publisher';
import type { SandboxRecord } from '../src/sandbox-store';
import { LocalEtcd } from '@tscni/testing/etcd';

const missing = missingForKernelTests(['etcd']);

const record = (id: string, name: string, ip?: string, additionalIps?: string[]): SandboxRecord =>
  ({
    id,
    config: {
      metadata: { name, namespace: 'web', uid: `u-${name}`, attempt: 0 },
      labels: { app: name, tier: 'front' },
    },
    runtimeHandler: '',
    createdAt: '0',
    state: 'ready',
    network: { confList: '{}', attached: true, ...(ip ? { ip } : {}), ...(additionalIps ? { additionalIps } : {}) },
  }) as unknown as SandboxRecord;

describe.skipIf(!!missing)(`cri-harness pod publisher${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let etcd: LocalEtcd;
  let gw: EtcdKV;
  const pods = async () => clusterFromKVs('/tscni/policy', await gw.list('/tscni/policy/')).cluster.pods;

  beforeAll(async () => {
    etcd = await LocalEtcd.start();
    gw = new EtcdKV({ endpoints: [etcd.endpoint] });
  }, 30_000);
  afterAll(async () => {
    gw?.close();
    await etcd?.stop();
  });

  it('publishes IP, namespace, labels and node; withdraws only its own sandbox', async () => {
    const pub = new PodPublisher({ endpoints: [etcd.endpoint] }, '/tscni/policy', 'node-1');
    await pub.published(record('a'.repeat(64), 'nginx', '10.88.0.5'));
    expect(await pods()).toEqual([
      { name: 'nginx', namespace: 'web', ip: '10.88.0.5', labels: { app: 'nginx', tier: 'front' }, node: 'node-1' },
    ]);
    // A newer sandbox of the same pod replaced the entry: stopping the old one leaves it.
    await pub.published(record('b'.repeat(64), 'nginx', '10.88.0.6'));
    await pub.withdrawn(record('a'.repeat(64), 'nginx'));
    expect((await pods()).map((p) => p.ip)).toEqual(['10.88.0.6']);
    await pub.withdrawn(record('b'.repeat(64), 'nginx'));
    expect(await pods()).toEqual([]);
    await pub.withdrawn(record('b'.repeat(64), 'nginx'));
    await pub.close();
  });

  it('a dual-stack pod is published with every address', async () => {
    const pub = new PodPublisher({ endpoints: [etcd.endpoint] }, '/tscni/policy', 'node-1');
    await pub.published(record('f'.repeat(64), 'dual', '10.88.0.9', ['fd00:88::9']));
    expect(await pods()).toEqual([
      {
        name: 'dual',
        namespace: 'web',
        ip: '10.88.0.9',
        ips: ['10.88.0.9', 'fd00:88::9'],
        labels: { app: 'dual', tier: 'front' },
        node: 'node-1',
      },
    ]);
    await pub.withdrawn(record('f'.repeat(64), 'dual'));
    expect(await pods()).toEqual([]);
    await pub.close();
  });

  it('a pod without an IP (network NODE) or with a non-Kubernetes name is not published; etcd down never throws', async () => {
    const pub = new PodPublisher({ endpoints: [etcd.endpoint] }, '/tscni/policy', 'node-1');
    await pub.published(record('c'.repeat(64), 'hostnet'));
    await pub.published(record('d'.repeat(64), 'Bad_Name', '10.88.0.7'));
    expect(await pods()).toEqual([]);
    const down = new PodPublisher({ endpoints: ['http://127.0.0.1:1'] }, '/tscni/policy', 'node-1');
    await expect(down.published(record('e'.repeat(64), 'x', '10.88.0.8'))).resolves.toBeUndefined();
    await expect(down.withdrawn(record('e'.repeat(64), 'x'))).resolves.toBeUndefined();
    await Promise.all([pub.close(), down.close()]);
  });
});

/** The harness's log lines (JSON on stderr) written while `fn` runs. */
async function logLines(fn: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
    return true;
  });
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return lines;
}

describe.skipIf(!!missing)(
  `cri-harness pod publisher, etcd over TLS with client certificates${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let etcd: LocalEtcd;

    beforeAll(async () => {
      etcd = await LocalEtcd.start({ tls: true });
    }, 30_000);
    afterAll(async () => etcd?.stop());

    it('publishes and withdraws with --etcd-cafile/--etcd-certfile/--etcd-keyfile', async () => {
      const tls = {
        endpoints: [etcd.endpoint],
        cafile: etcd.tls!.ca,
        certfile: etcd.tls!.cert,
        keyfile: etcd.tls!.key,
      };
      const pub = new PodPublisher(tls, '/tscni/policy', 'node-2');
      const reader = new EtcdKV(tls);
      try {
        expect((await logLines(() => pub.probe())).map((l) => l.msg)).toEqual(['EtcdConnected']);
        await pub.published(record('f'.repeat(64), 'api', '10.88.1.9'));
        const { pods } = clusterFromKVs('/tscni/policy', await reader.list('/tscni/policy/')).cluster;
        expect(pods).toEqual([
          { name: 'api', namespace: 'web', ip: '10.88.1.9', labels: { app: 'api', tier: 'front' }, node: 'node-2' },
        ]);
        await pub.withdrawn(record('f'.repeat(64), 'api'));
        expect(await reader.list('/tscni/policy/')).toEqual([]);
      } finally {
        reader.close();
        await pub.close();
      }
    });

    it('a certificate etcd refuses is logged at start-up and with each pod, saying which flag to fix', async () => {
      const pub = new PodPublisher(
        { endpoints: [etcd.endpoint], cafile: etcd.tls!.ca, certfile: etcd.foreign!.cert, keyfile: etcd.foreign!.key },
        '/tscni/policy',
        'node-2',
      );
      const refused = `etcd at ${etcd.endpoint} refused the client certificate (TLS alert "bad certificate"): --etcd-certfile ${etcd.foreign!.cert} is not signed by a CA that etcd trusts (its --trusted-ca-file)`;
      const lines = await logLines(async () => {
        await pub.probe();
        await pub.published(record('9'.repeat(64), 'api', '10.88.1.10'));
      });
      expect(lines).toMatchObject([
        { level: 'warn', msg: 'EtcdUnavailable', error: refused },
        { level: 'warn', msg: 'PodNotPublished', sandbox: '9'.repeat(64), error: expect.stringContaining(refused) },
      ]);
      await pub.close();
    });
  },
);
