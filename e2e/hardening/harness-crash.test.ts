/**
 * Crash consistency of the CRI harness: kill -9 at random points of RunPodSandbox (over our full chain),
 * HARNESS_KILLS times (default 8), each followed by a restart, stop and removal of whatever pods it
 * lists; then the node is as it was — no link, rule, qdisc, state file, pinned netns or pause process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, missingForKernelTests } from '@tscni/net/testing';
import { pauseProcessesOf, recordsIn } from '../../apps/cri-harness/test/harness-process';
import { expectNodeAsItWas } from '../support/node-state';
import { podJson, startPodNode, type PodNode } from '../support/cluster';

const KILLS = Number(process.env.HARNESS_KILLS ?? 8);
const CHAIN = ['bridge', 'host-local', 'portmap', 'bandwidth', 'tuning', 'firewall', 'loopback'];
const absent = CHAIN.filter((p) => !existsSync(join(DIST_BIN, p)));
const missing = missingForKernelTests(['ip', 'nsenter', 'unshare', 'iptables-save', 'nft', 'tc']) ?? (absent.length ? `needs ${absent.join(', ')}` : undefined);

const conflist = (dirs: PodNode['dirs']) => ({
  cniVersion: '1.0.0',
  name: 'hcrashnet',
  plugins: [
    { type: 'bridge', bridge: 'hcrbr0', isGateway: true, ipMasq: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.69.0.0/24' }]], dataDir: dirs.ipam } },
    { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    { type: 'bandwidth', capabilities: { bandwidth: true } },
    { type: 'tuning', mtu: 1400, dataDir: dirs.tuning },
    { type: 'firewall' },
  ],
});
const pod = (name: string) =>
  podJson(name, {
    port_mappings: [{ protocol: 0, container_port: 80, host_port: 19292, host_ip: '' }],
    annotations: { 'kubernetes.io/ingress-bandwidth': '10M', 'kubernetes.io/egress-bandwidth': '10M' },
  });

describe.skipIf(!!missing)(`crash consistency: kill -9 of the harness during RunPodSandbox (${KILLS} kills)${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let pn: PodNode;
  beforeAll(async () => {
    pn = await startPodNode('hcr', Object.fromEntries(CHAIN.map((p) => [p, 'ours'])), conflist);
  });
  afterAll(async () => pn?.teardown());

  /** Netns paths the sandbox records name (a crash may leave one that no pod lists). */
  const recordedNetns = () =>
    recordsIn(join(pn.opts.stateDir))
      .map((f) => JSON.parse(readFileSync(join(pn.opts.stateDir, 'sandboxes', f), 'utf8')).netns as string | undefined)
      .filter((n): n is string => !!n);

  it(`${KILLS} kills at random points of RunPodSandbox, restart, stop and remove: the node is as it was`, async () => {
    // One full lifecycle first times RunPodSandbox.
    const t0 = Date.now();
    const warm = await pn.crictl.runp(pod('warm'));
    const runMs = Date.now() - t0;
    pn.podNetns.push((await pn.crictl.inspectp(warm)).info.netns);
    await pn.crictl.stopp(warm);
    await pn.crictl.rmp(warm);

    const figures = { kills: 0, readyAfterRestart: 0, rolledBackByRestart: 0, runMs, totalMs: 0 };
    const started = Date.now();
    for (let i = 0; i < KILLS; i++) {
      const pending = pn.crictl.runp(pod(`killed-${i}`), { timeoutMs: 30_000 }).catch((e: Error) => e);
      await new Promise((r) => setTimeout(r, Math.round(((i + Math.random()) / KILLS) * runMs)));
      pn.podNetns.push(...recordedNetns());
      await pn.harness.kill9();
      figures.kills++;
      await pending;
      pn.podNetns.push(...recordedNetns());
      await pn.restart();
      const pods = (await pn.crictl.pods()) as unknown as { id: string }[];
      figures.rolledBackByRestart += pods.length ? 0 : 1;
      for (const p of pods) {
        const { status, info } = await pn.crictl.inspectp(p.id);
        if (info.netns) pn.podNetns.push(info.netns);
        if (status.state === 'SANDBOX_READY') {
          figures.readyAfterRestart++;
          expect(status.network.ip).toMatch(/^10\.69\.0\.\d+$/);
        }
        await pn.crictl.stopp(p.id);
        await pn.crictl.rmp(p.id);
      }
      expect(await pn.crictl.pods()).toEqual([]);
      expect(pauseProcessesOf(pn.opts.stateDir), 'pause processes').toEqual([]);
      expectNodeAsItWas(pn.before, pn.state(), { ids: [], ips: [], netns: pn.podNetns });
    }
    figures.totalMs = Date.now() - started;
    console.log(`harness-crash figures: ${JSON.stringify(figures)}`);
  });
});
