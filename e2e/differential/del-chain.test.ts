/**
 * DEL is best-effort as in the reference (issue 16 part 4): the bridge → portmap → firewall chain as
 * podman and containerd write it (firewall `backend: ""`, Go-named portMappings) is set up, then torn
 * down by DEL in reverse order the way libcni does it (stopping at the first failure) — after a
 * successful ADD, and after an ADD that failed halfway (tuning, the last plugin, refuses its sysctl).
 * Every DEL must succeed and the node must be as it was. Run with ours and with the reference.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DIST_BIN,
  REFERENCE_BIN,
  TestNode,
  implementations,
  missingForKernelTests,
  type PluginRun,
} from '@tscni/testing/node';
import { ipState, iptablesState } from './observe';

const missing = missingForKernelTests(['ip', 'nsenter', 'iptables-save']);
const CHAIN = ['bridge', 'host-local', 'portmap', 'firewall', 'tuning'];
const noReference = CHAIN.some((p) => !implementations(p)[1].present);

const nodes: TestNode[] = [];
afterAll(() => nodes.forEach((n) => n.destroy()));

function chain(dataDir: string, failLast: boolean): Record<string, unknown>[] {
  return [
    {
      type: 'bridge',
      bridge: 'dlbr0',
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: { type: 'host-local', subnet: '10.103.0.0/24', dataDir },
    },
    {
      type: 'portmap',
      capabilities: { portMappings: true },
      runtimeConfig: { portMappings: [{ HostPort: 24080, ContainerPort: 80, Protocol: 'tcp', HostIP: '' }] },
    },
    { type: 'firewall', backend: '' },
    ...(failLast
      ? [{ type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.no_such_knob': '1' }, dataDir: join(dataDir, 'tuning') }]
      : []),
  ];
}

for (const side of ['tscni', 'reference'] as const) {
  describe.skipIf(!!missing || (side === 'reference' && noReference))(
    `DEL of a podman/containerd-shaped chain (${side})${missing ? ` — skipped: ${missing}` : ''}`,
    () => {
      const bin = side === 'tscni' ? DIST_BIN : REFERENCE_BIN;

      for (const failLast of [false, true]) {
        it(
          failLast
            ? 'an ADD that failed halfway is fully removed by DEL'
            : 'DEL with the same configs as the ADD succeeds and removes everything',
          async () => {
            const node = new TestNode('dl');
            nodes.push(node);
            const pod = node.addPod('dlp');
            const dataDir = join(node.tmp, 'state');
            const observe = () => `${ipState(node.path)}\n${ipState(pod)}\n${iptablesState(node.path)}`;
            const env = (cmd: string) => ({
              CNI_COMMAND: cmd,
              CNI_CONTAINERID: `dl-${side}-${failLast}`,
              CNI_NETNS: pod,
              CNI_IFNAME: 'eth0',
              CNI_PATH: bin,
            });
            const run = (conf: Record<string, unknown>, cmd: string, prevResult?: unknown): Promise<PluginRun> =>
              node.runPlugin(join(bin, String(conf.type)), env(cmd), {
                cniVersion: '1.0.0',
                name: 'dlnet',
                ...conf,
                ...(prevResult ? { prevResult } : {}),
              });

            // the bridge itself and the shared top-level chains outlive DEL by design: create them first
            const warm = chain(dataDir, false);
            let warmResult: unknown;
            for (const c of warm) warmResult = (await run(c, 'ADD', warmResult)).json;
            for (const c of [...warm].reverse()) await run(c, 'DEL', warmResult);
            const before = observe();

            // ADD like libcni: each plugin gets the previous result; stop at the first failure
            const plugins = chain(dataDir, failLast);
            let result: unknown;
            let failed: PluginRun | undefined;
            for (const c of plugins) {
              const r = await run(c, 'ADD', result);
              if (r.code !== 0) {
                failed = r;
                break;
              }
              result = r.json;
            }
            expect(failed === undefined, failed?.stdout).toBe(!failLast);
            expect(iptablesState(node.path)).toContain('--to-destination 10.103.0.');

            // DEL like libcni: reverse order, the cached result as prevResult, stop at the first failure
            for (const c of [...plugins].reverse()) {
              const r = await run(c, 'DEL', result);
              expect(r.code, `${String(c.type)} DEL: ${r.stdout}`).toBe(0);
            }
            expect(observe()).toBe(before);
            expect(readdirSync(join(dataDir, 'dlnet')).filter((f) => /^\d/.test(f))).toEqual([]);
          },
        );
      }
    },
  );
}
