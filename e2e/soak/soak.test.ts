/**
 * Concurrency soak through the CRI harness: SOAK_PODS lifecycles (default 128; `node e2e/soak/run.mjs --pods 1000`
 * for the full run) at parallelism 16 on one node over our bridge + host-local → portmap → firewall chain.
 * Asserted: 0 failures, 0 duplicate IPs, the whole node state as before, and the harness's RSS flat after the
 * warm-up: from pod min(100, ¾ of the run) to the end it grows by at most RSS_GROWTH_MIB (default 16 MiB; the
 * heap levels off by then, a leak of ½ MiB per pod breaks it). The figures are printed (SOAK_REPORT=<file>
 * also writes them as JSON).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, missingForKernelTests } from '@tscni/testing/node';
import { pauseProcessesOf } from '@tscni/testing/harness-process';
import { expectNodeUnchanged } from '@tscni/testing/node-state';
import { podJson, startPodNode, type PodNode } from '@tscni/testing/cluster';
import { soak } from './soak';

const PODS = Number(process.env.SOAK_PODS ?? 128);
const RSS_GROWTH_MIB = Number(process.env.RSS_GROWTH_MIB ?? 16);
const PARALLELISM = Number(process.env.SOAK_PARALLELISM ?? 16);
const CHAIN = ['bridge', 'host-local', 'portmap', 'firewall', 'loopback'];
const absent = CHAIN.filter((p) => !existsSync(join(DIST_BIN, p)));
const missing =
  missingForKernelTests(['ip', 'nsenter', 'unshare', 'iptables-save', 'nft', 'tc']) ??
  (absent.length ? `needs ${absent.join(', ')}` : undefined);

const conflist = (dirs: PodNode['dirs']) => ({
  cniVersion: '1.0.0',
  name: 'soaknet',
  plugins: [
    {
      type: 'bridge',
      bridge: 'soakbr0',
      isGateway: true,
      ipMasq: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.70.0.0/24' }]], dataDir: dirs.ipam },
    },
    { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    { type: 'firewall' },
  ],
});

describe.skipIf(!!missing)(
  `concurrency soak: ${PODS} pod lifecycles at parallelism ${PARALLELISM}${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let pn: PodNode;
    beforeAll(async () => {
      pn = await startPodNode('soak', Object.fromEntries(CHAIN.map((p) => [p, 'ours'])), conflist);
      // One lifecycle first: the bridge and the shared chains outlive pods; the whole-state baseline follows it.
      const warm = await pn.crictl.runp(podJson('soak-warm'));
      pn.podNetns.push((await pn.crictl.inspectp(warm)).info.netns);
      await pn.crictl.stopp(warm);
      await pn.crictl.rmp(warm);
      pn.before = pn.state();
    });
    afterAll(async () => pn?.teardown());

    it(
      'every lifecycle succeeds, no two live pods share an IP, nothing is left, the harness memory stays flat',
      async () => {
        const figures = await soak(pn, PODS, PARALLELISM, (p) => {
          if (p.netns) pn.podNetns.push(p.netns);
        });
        console.log(`soak figures: ${JSON.stringify(figures)}`);
        const mib = (k: number) => (k / 1024).toFixed(1);
        console.log(
          `soak RSS: ${mib(figures.rssStartKiB)} MiB at start, ${mib(figures.rssAfterWarmupKiB)} MiB after pod ${figures.warmupPods}, ${mib(figures.rssEndKiB)} MiB after pod ${PODS} (growth ${mib(figures.rssGrowthAfterWarmupKiB)} MiB, bound ${RSS_GROWTH_MIB} MiB), peak ${mib(figures.rssPeakKiB)} MiB`,
        );
        if (process.env.SOAK_REPORT) writeFileSync(process.env.SOAK_REPORT, JSON.stringify(figures, null, 2));
        expect(figures.firstErrors).toEqual([]);
        expect(figures.failures).toBe(0);
        expect(figures.completed).toBe(PODS);
        expect(figures.duplicateIPs).toEqual([]);
        expect(await pn.crictl.pods()).toEqual([]);
        expect(pauseProcessesOf(pn.opts.stateDir), 'pause processes').toEqual([]);
        expectNodeUnchanged(pn.before, pn.state(), pn.podNetns);
        expect(figures.rssAfterWarmupKiB, 'RSS sampled after the warm-up').toBeGreaterThan(0);
        expect(
          figures.rssGrowthAfterWarmupKiB / 1024,
          `harness RSS growth from pod ${figures.warmupPods} to ${PODS} (MiB)`,
        ).toBeLessThanOrEqual(RSS_GROWTH_MIB);
      },
      PODS * 3_000 + 120_000,
    );
  },
);
