/** containerd sends runtimeConfig.bandwidth with Go field names (IngressRate, …); the reference decodes them. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode, implementations, missingForKernelTests } from '@tscni/testing/node';
import { BridgeNet, allQdiscs, missingTcFeature, type Attachment } from './fixture';

const missing = missingForKernelTests(['ip', 'nsenter', 'tc']) ?? missingTcFeature();

let node: TestNode;
let net: BridgeNet;
beforeAll(() => {
  if (missing) return;
  node = new TestNode('bwgo');
  net = new BridgeNet(node);
});
afterAll(() => node?.destroy());

describe.skipIf(!!missing)(
  `bandwidth with capitalised capability keys${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    const shaped = () =>
      allQdiscs(node)
        .filter((q) => q.kind === 'tbf' || q.kind === 'ingress')
        .map((q) => `${q.kind}@${q.dev}`)
        .sort();
    for (const impl of implementations('bandwidth').filter((i) => i.present)) {
      it(`${impl.name}: IngressRate/EgressRate install tbf on both sides; DEL with the same config removes the ifb`, async () => {
        const pod: Attachment = await net.attach(); // a fresh veth: the root/ingress qdiscs stay on it after DEL, as in the reference
        const conf = {
          cniVersion: '1.0.0',
          name: net.netName,
          type: 'bandwidth',
          capabilities: { bandwidth: true },
          runtimeConfig: {
            Bandwidth: {
              IngressRate: 1_000_000,
              IngressBurst: 1_000_000,
              EgressRate: 2_000_000,
              EgressBurst: 1_000_000,
            },
          },
          prevResult: pod.result,
        };
        const env = (cmd: string) => net.env(cmd, pod.cid, pod.pod);
        const before = shaped();
        const add = await node.runPlugin(impl.bin, env('ADD'), conf);
        expect(add.code, add.stdout).toBe(0);
        const after = shaped().filter((q) => !before.includes(q));
        expect(after.some((q) => q === `tbf@${net.hostVeth(pod)}`)).toBe(true);
        expect(after.some((q) => q.startsWith('tbf@bwp'))).toBe(true);
        const del = await node.runPlugin(impl.bin, env('DEL'), conf);
        expect(del.code, del.stdout).toBe(0);
        expect(shaped().filter((q) => q.includes('@bwp'))).toEqual([]);
        await net.detach(pod);
      });
    }
  },
);
