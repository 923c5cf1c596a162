/** portmap → firewall chained after bridge, as a runtime runs them: ADD and CHECK forward, DEL in reverse. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, missingForKernelTests, startTcpServer, tcpRequest, type TcpServer } from '@tscni/testing/node';
import { NET, NODE_IP, PortmapNode, type Pod } from './fixture';

const missing = missingForKernelTests(['ip', 'nsenter', 'iptables-save', 'nft']);

describe.skipIf(!!missing)(`chain (bridge →) portmap → firewall${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let pm: PortmapNode;
  let server: TcpServer;
  let podA: Pod;
  let podB: Pod;
  beforeAll(async () => {
    pm = new PortmapNode();
    podA = await pm.addPod();
    podB = await pm.addPod();
    server = await startTcpServer(podA.netns, 80, 'podA');
  });
  afterAll(() => {
    server?.close();
    pm?.destroy();
  });

  for (const backend of ['iptables', 'nftables'] as const) {
    it(`${backend}: ADD, traffic through the host port, CHECK, DEL in reverse leaves no rule`, async () => {
      const hostPort = backend === 'iptables' ? 8443 : 9443;
      // podA publishes the host port; podB (no mappings: portmap passes it through) is the client.
      const stepsFor = (pod: Pod) => [
        {
          bin: join(DIST_BIN, 'portmap'),
          conf: {
            type: 'portmap',
            backend,
            runtimeConfig: { portMappings: pod === podA ? [{ hostPort, containerPort: 80, protocol: 'tcp' }] : [] },
          },
        },
        { bin: join(DIST_BIN, 'firewall'), conf: { type: 'firewall', backend } },
      ];
      // iptables: only what the firewall plugin accepts may cross the node. (An nftables accept cannot
      // override another table's drop, so the nftables run keeps the default accept policy.)
      pm.node.exec('iptables', ['-P', 'FORWARD', backend === 'iptables' ? 'DROP' : 'ACCEPT']);
      const before = { nat: pm.natRules(), filter: filterRules(), nft: pm.nftRuleset() };
      const results = new Map<Pod, unknown>();
      for (const pod of [podA, podB]) {
        let prevResult: unknown = pod.result;
        for (const step of stepsFor(pod)) {
          const r = await pm.node.runPlugin(step.bin, pm.env('ADD', pod.containerID, pod.netns), {
            cniVersion: '1.0.0',
            name: NET,
            ...step.conf,
            prevResult,
          });
          expect(r.code, `${step.conf.type}: ${r.stdout}`).toBe(0);
          prevResult = r.json;
        }
        expect(prevResult).toEqual(pod.result);
        results.set(pod, prevResult);
      }
      try {
        expect(tcpRequest(podB.netns, NODE_IP, hostPort)).toMatch(/^podA /);
        expect(tcpRequest(pm.node.path, '127.0.0.1', hostPort)).toMatch(/^podA /);
        for (const step of stepsFor(podA)) {
          const r = await pm.node.runPlugin(step.bin, pm.env('CHECK', podA.containerID, podA.netns), {
            cniVersion: '1.0.0',
            name: NET,
            ...step.conf,
            prevResult: results.get(podA),
          });
          expect(r.code, `${step.conf.type} CHECK: ${r.stdout}`).toBe(0);
        }
      } finally {
        for (const pod of [podA, podB]) {
          for (const step of stepsFor(pod).reverse()) {
            const r = await pm.node.runPlugin(step.bin, pm.env('DEL', pod.containerID, pod.netns), {
              cniVersion: '1.0.0',
              name: NET,
              ...step.conf,
              prevResult: results.get(pod),
            });
            expect(r.code, `${step.conf.type} DEL: ${r.stdout}`).toBe(0);
          }
        }
      }
      // Per-pod state is gone; only the shared skeleton chains/tables may have appeared.
      for (const pod of [podA, podB]) {
        expect(pm.natRules()).not.toContain(pod.ip);
        expect(filterRules()).not.toContain(pod.ip);
        expect(pm.nftRuleset()).not.toContain(pod.ip);
        expect(pm.nftRuleset()).not.toContain(pod.containerID);
      }
      expect(newLines(before.nat, pm.natRules()).every((l) => /CNI-HOSTPORT-(DNAT|SETMARK|MASQ)/.test(l))).toBe(true);
      expect(newLines(before.filter, filterRules()).every((l) => /CNI-(FORWARD|ADMIN)/.test(l))).toBe(true);
      expect(tcpRequest(podB.netns, NODE_IP, hostPort, 500)).toMatch(/^error/);
    });
  }

  const filterRules = () =>
    pm.node
      .exec('iptables-save', ['-t', 'filter'])
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');
  // new rules (chain policy lines carry packet counters, so only rules are compared)
  const newLines = (before: string, after: string) =>
    after.split('\n').filter((l) => l.startsWith('-A') && !before.split('\n').includes(l));
});
