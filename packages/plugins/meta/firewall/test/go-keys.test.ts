/** podman writes `{"type":"firewall","backend":""}`: "" is the default backend, as in the reference; keys match case-insensitively. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFERENCE_BIN, TestNode, implementations, missingForKernelTests } from '@tscni/testing/node';

const missing = missingForKernelTests(['ip', 'nsenter', 'iptables-save']);

let node: TestNode;
let pod: { netns: string; ip: string; result: Record<string, unknown> };
const env = (command: string, netns: string) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: 'fw-go',
  CNI_NETNS: netns,
  CNI_IFNAME: 'eth0',
  CNI_PATH: REFERENCE_BIN,
});

beforeAll(async () => {
  if (missing) return;
  node = new TestNode('fwgo');
  const netns = node.addPod('p');
  const conf = {
    cniVersion: '1.0.0',
    name: 'fwgo',
    type: 'bridge',
    bridge: 'fwgo0',
    isGateway: true,
    ipam: { type: 'host-local', subnet: '10.81.0.0/24', dataDir: join(node.tmp, 'ipam') },
  };
  const r = await node.runPlugin(join(REFERENCE_BIN, 'bridge'), env('ADD', netns), conf);
  if (r.code !== 0) throw new Error(`bridge ADD: ${r.stdout}`);
  pod = { netns, ip: r.json.ips[0].address.split('/')[0], result: r.json };
});
afterAll(() => node?.destroy());

describe.skipIf(!!missing)(`firewall decodes podman's config${missing ? ` — skipped: ${missing}` : ''}`, () => {
  const rules = () =>
    node
      .exec('iptables-save', ['-t', 'filter'])
      .split('\n')
      .filter((l) => l.includes(`${pod.ip}/32`));
  for (const impl of implementations('firewall').filter((i) => i.present)) {
    for (const [what, extra] of [
      ['backend ""', { backend: '' }],
      ['"Backend": "iptables", "IngressPolicy": ""', { Backend: 'iptables', IngressPolicy: '' }],
    ] as const) {
      it(`${impl.name}: ${what} opens the pod's address in iptables; DEL with the same config removes it`, async () => {
        const conf = { cniVersion: '1.0.0', name: 'fwgo', type: 'firewall', ...extra, prevResult: pod.result };
        const add = await node.runPlugin(impl.bin, env('ADD', pod.netns), conf);
        expect(add.code, add.stdout).toBe(0);
        expect(rules().length).toBeGreaterThan(0);
        const del = await node.runPlugin(impl.bin, env('DEL', pod.netns), conf);
        expect(del.code, del.stdout).toBe(0);
        expect(rules()).toEqual([]);
      });
    }
  }
});
