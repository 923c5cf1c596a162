/** The optional pod publisher against a real etcd: what the agents' policy reads, written on run and removed on stop. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingForKernelTests } from '@tscni/testing/node';
import { EtcdGateway, clusterFromKVs } from '@tscni/policy';
import { PodPublisher } from '../src/pod-publisher';
import type { SandboxRecord } from '../src/sandbox-store';
import { LocalEtcd } from '@tscni/testing/etcd';

const missing = missingForKernelTests(['etcd']);

const record = (id: string, name: string, ip?: string): SandboxRecord =>
  ({
    id,
    config: { metadata: { name, namespace: 'web', uid: `u-${name}`, attempt: 0 }, labels: { app: name, tier: 'front' } },
    runtimeHandler: '',
    createdAt: '0',
    state: 'ready',
    network: { confList: '{}', attached: true, ...(ip ? { ip } : {}) },
  }) as unknown as SandboxRecord;

describe.skipIf(!!missing)(`cri-harness pod publisher${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let etcd: LocalEtcd;
  let gw: EtcdGateway;
  const pods = async () => clusterFromKVs('/tscni/policy', await gw.list('/tscni/policy/')).cluster.pods;

  beforeAll(async () => {
    etcd = await LocalEtcd.start();
    gw = new EtcdGateway([etcd.endpoint]);
  }, 30_000);
  afterAll(async () => etcd?.stop());

  it('publishes IP, namespace, labels and node; withdraws only its own sandbox', async () => {
    const pub = new PodPublisher([etcd.endpoint], '/tscni/policy', 'node-1');
    await pub.published(record('a'.repeat(64), 'nginx', '10.88.0.5'));
    expect(await pods()).toEqual([{ name: 'nginx', namespace: 'web', ip: '10.88.0.5', labels: { app: 'nginx', tier: 'front' }, node: 'node-1' }]);
    // A newer sandbox of the same pod replaced the entry: stopping the old one leaves it.
    await pub.published(record('b'.repeat(64), 'nginx', '10.88.0.6'));
    await pub.withdrawn(record('a'.repeat(64), 'nginx'));
    expect((await pods()).map((p) => p.ip)).toEqual(['10.88.0.6']);
    await pub.withdrawn(record('b'.repeat(64), 'nginx'));
    expect(await pods()).toEqual([]);
    await pub.withdrawn(record('b'.repeat(64), 'nginx'));
  });

  it('a pod without an IP (network NODE) or with a non-Kubernetes name is not published; etcd down never throws', async () => {
    const pub = new PodPublisher([etcd.endpoint], '/tscni/policy', 'node-1');
    await pub.published(record('c'.repeat(64), 'hostnet'));
    await pub.published(record('d'.repeat(64), 'Bad_Name', '10.88.0.7'));
    expect(await pods()).toEqual([]);
    const down = new PodPublisher(['http://127.0.0.1:1'], '/tscni/policy', 'node-1');
    await expect(down.published(record('e'.repeat(64), 'x', '10.88.0.8'))).resolves.toBeUndefined();
    await expect(down.withdrawn(record('e'.repeat(64), 'x'))).resolves.toBeUndefined();
  });
});
