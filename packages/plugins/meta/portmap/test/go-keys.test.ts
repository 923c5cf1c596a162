/** containerd's go-cni marshals portMappings with Go field names; both binaries must decode them (and `backend: ""`). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { implementations, missingForKernelTests } from '@tscni/testing/node';
import { NET, PortmapNode, type Pod } from './fixture';

const missing = missingForKernelTests(['ip', 'nsenter', 'iptables-save']);

let pm: PortmapNode;
let pod: Pod;
beforeAll(async () => {
  if (missing) return;
  pm = new PortmapNode();
  pod = await pm.addPod();
});
afterAll(() => pm?.destroy());

describe.skipIf(!!missing)(
  `portmap with containerd-shaped portMappings${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    const [ours, ref] = implementations('portmap');
    const conf = (extra: Record<string, unknown> = {}) => ({
      cniVersion: '1.0.0',
      name: NET,
      type: 'portmap',
      capabilities: { portMappings: true },
      ...extra,
      runtimeConfig: {
        portMappings: [
          { HostPort: 21001, ContainerPort: 80, Protocol: 'tcp', HostIP: '' },
          { HostPort: 21053, ContainerPort: 53, Protocol: 'UDP', HostIP: '' },
        ],
      },
      prevResult: pod.result,
    });
    const run = (bin: string, cmd: string, c: unknown) =>
      pm.node.runPlugin(bin, pm.env(cmd, pod.containerID, pod.netns), c);

    it('ours installs the DNAT the reference installs for the same input, and DEL with the same config removes it', async () => {
      const clean = pm.natRules();
      let theirs: string | undefined;
      if (ref.present) {
        const r = await run(ref.bin, 'ADD', conf());
        expect(r.code, r.stdout).toBe(0);
        theirs = pm.natRules();
        expect((await run(ref.bin, 'DEL', conf())).code).toBe(0);
      }
      const add = await run(ours.bin, 'ADD', conf());
      expect(add.code, add.stdout).toBe(0);
      const rules = pm.natRules();
      expect(rules).toContain(`-p tcp -m tcp --dport 21001 -j DNAT --to-destination ${pod.ip}:80`);
      expect(rules).toContain(`-p udp -m udp --dport 21053 -j DNAT --to-destination ${pod.ip}:53`);
      // (the reference emits the per-protocol entry rules in Go map order: compare as sets)
      const sorted = (t: string) => t.split('\n').sort();
      if (theirs !== undefined) expect(sorted(rules)).toEqual(sorted(theirs));
      const del = await run(ours.bin, 'DEL', conf());
      expect(del.code, del.stdout).toBe(0);
      expect(pm.natRules()).not.toContain('CNI-DN-');
      expect(
        pm
          .natRules()
          .split('\n')
          .filter((l) => !clean.split('\n').includes(l))
          .every((l) => /CNI-HOSTPORT-(DNAT|SETMARK|MASQ)/.test(l)),
      ).toBe(true);
    });

    it('backend "" means the default backend, and a wrong-typed HostPort is code 7 naming the field', async () => {
      const add = await run(ours.bin, 'ADD', conf({ backend: '' }));
      expect(add.code, add.stdout).toBe(0);
      expect(pm.natRules()).toContain(`--dport 21001 -j DNAT --to-destination ${pod.ip}:80`);
      expect((await run(ours.bin, 'DEL', conf({ backend: '' }))).code).toBe(0);
      expect(pm.natRules()).not.toContain('CNI-DN-');
      const bad = await run(ours.bin, 'ADD', {
        ...conf(),
        runtimeConfig: { portMappings: [{ HostPort: '21001', ContainerPort: 80, Protocol: 'tcp' }] },
      });
      expect(bad.code).toBe(1);
      expect(bad.json).toMatchObject({
        code: 7,
        msg: expect.stringContaining('runtimeConfig.portMappings[0].hostPort: Expected number, received string'),
      });
      expect(pm.natRules()).not.toContain('CNI-DN-');
    });
  },
);
