/** The iptables backend against the reference binary: the same ruleset for the same config, and each DELs the other's. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { implementations, missingForKernelTests } from '@tscni/testing/node';
import { NET, NODE_IP, PortmapNode, type Pod } from './fixture';

const missing = missingForKernelTests(['ip', 'nsenter', 'iptables-save']);

let pm: PortmapNode;
let podA: Pod;
beforeAll(async () => {
  if (missing) return;
  pm = new PortmapNode();
  podA = await pm.addPod();
});
afterAll(() => pm?.destroy());

describe.skipIf(!!missing || !implementations('portmap')[1].present)(
  'portmap iptables interop with the reference',
  () => {
    const [ours, ref] = implementations('portmap');
    // (masqAll is not compared: Debian's reference is v1.1.1, masqAll came in v1.2.0.)
    const cases: [string, Record<string, unknown>, unknown[]][] = [
      [
        'defaults',
        {},
        [
          { hostPort: 7080, containerPort: 80, protocol: 'tcp' },
          { hostPort: 7053, containerPort: 53, protocol: 'udp' },
        ],
      ],
      ['markMasqBit 5', { markMasqBit: 5 }, [{ hostPort: 7082, containerPort: 80, protocol: 'tcp' }]],
      [
        'externalSetMarkChain',
        { externalSetMarkChain: 'KUBE-MARK-MASQ' },
        [{ hostPort: 7083, containerPort: 80, protocol: 'tcp' }],
      ],
      [
        'hostIP and snat off',
        { snat: false },
        [{ hostPort: 7084, containerPort: 80, protocol: 'tcp', hostIP: NODE_IP }],
      ],
      [
        'conditionsV4',
        { conditionsV4: ['-s', '192.168.0.0/16'] },
        [{ hostPort: 7085, containerPort: 80, protocol: 'tcp' }],
      ],
      [
        '20 ports (multiport split)',
        {},
        Array.from({ length: 20 }, (_, i) => ({ hostPort: 7100 + i, containerPort: 80, protocol: 'tcp' })),
      ],
    ];
    beforeAll(() => {
      if (!missing) pm.node.exec('iptables', ['-t', 'nat', '-N', 'KUBE-MARK-MASQ'], { allowFail: true });
    });
    for (const [what, extra, mappings] of cases) {
      it(`${what}: same ruleset as the reference, and each DELs the other's`, async () => {
        const c = {
          cniVersion: '1.0.0',
          name: NET,
          type: 'portmap',
          ...extra,
          runtimeConfig: { portMappings: mappings },
          prevResult: podA.result,
        };
        const run = (bin: string, cmd: string) => pm.node.runPlugin(bin, pm.env(cmd, podA.containerID, podA.netns), c);
        const clean = pm.natRules();
        try {
          await compare(run, clean);
        } finally {
          await run(ours.bin, 'DEL');
        }
      });
    }
    async function compare(
      run: (bin: string, cmd: string) => Promise<{ code: number; stdout: string }>,
      clean: string,
    ) {
      expect((await run(ref.bin, 'ADD')).code).toBe(0);
      const theirs = pm.natRules();
      expect(theirs).toContain('CNI-DN-');
      const del1 = await run(ours.bin, 'DEL');
      expect(del1.code, del1.stdout).toBe(0);
      expect(pm.natRules()).not.toContain('CNI-DN-');
      const add = await run(ours.bin, 'ADD');
      expect(add.code, add.stdout).toBe(0);
      expect(pm.natRules()).toBe(theirs);
      const del2 = await run(ref.bin, 'DEL');
      expect(del2.code, del2.stdout).toBe(0);
      expect(pm.natRules()).not.toContain('CNI-DN-');
      // only the shared top-level chains (which the reference never removes either) may remain
      const shared = pm
        .natRules()
        .split('\n')
        .filter((l) => !clean.split('\n').includes(l));
      expect(shared.every((l) => /CNI-HOSTPORT-(DNAT|SETMARK|MASQ)/.test(l))).toBe(true);
    }
  },
);
