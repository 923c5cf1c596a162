/**
 * Concurrency soak through the CRI harness: SOAK_PODS lifecycles (default 64; `node e2e/soak/run.mjs --pods 1000`
 * for the full run) at parallelism 16 on one node over our bridge + host-local → portmap → firewall chain. 0 failures, 0 duplicate IPs, 0 leaks;
 * the harness's RSS at start and end is reported (SOAK_REPORT=<file> also writes the figures as JSON).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, missingForKernelTests } from '@tscni/net/testing';
import { pauseProcessesOf } from '../../apps/cri-harness/test/harness-process';
import { expectNodeAsItWas } from '../support/node-state';
import { startPodNode, type PodNode } from '../support/cluster';
import { soak } from './soak';

const PODS = Number(process.env.SOAK_PODS ?? 64);
const PARALLELISM = Number(process.env.SOAK_PARALLELISM ?? 16);
const CHAIN = ['bridge', 'host-local', 'portmap', 'firewall', 'loopback'];
const absent = CHAIN.filter((p) => !existsSync(join(DIST_BIN, p)));
const missing = missingForKernelTests(['ip', 'nsenter', 'unshare', 'iptables-save', 'nft', 'tc']) ?? (absent.length ? `needs ${absent.join(', ')}` : undefined);

const conflist = (dirs: PodNode['dirs']) => ({
  cniVersion: '1.0.0',
  name: 'soaknet',
  plugins: [
    { type: 'bridge', bridge: 'soakbr0', isGateway: true, ipMasq: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.70.0.0/24' }]], dataDir: dirs.ipam } },
    { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    { type: 'firewall' },
  ],
});

describe.skipIf(!!missing)(`concurrency soak: ${PODS} pod lifecycles at parallelism ${PARALLELISM}${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let pn: PodNode;
  beforeAll(async () => {
    pn = await startPodNode('soak', Object.fromEntries(CHAIN.map((p) => [p, 'ours'])), conflist);
  });
  afterAll(async () => pn?.teardown());

  it(
    'every lifecycle succeeds, no two live pods share an IP, nothing is left, the harness memory stays flat',
    async () => {
      const ids: string[] = [];
      const ips = new Set<string>();
      const figures = await soak(pn, PODS, PARALLELISM, (p) => {
        ids.push(p.id);
        if (p.ip) ips.add(p.ip);
        if (p.netns) pn.podNetns.push(p.netns);
      });
      console.log(`soak figures: ${JSON.stringify(figures)}`);
      if (process.env.SOAK_REPORT) writeFileSync(process.env.SOAK_REPORT, JSON.stringify(figures, null, 2));
      expect(figures.firstErrors).toEqual([]);
      expect(figures.failures).toBe(0);
      expect(figures.completed).toBe(PODS);
      expect(figures.duplicateIPs).toEqual([]);
      expect(await pn.crictl.pods()).toEqual([]);
      expect(pauseProcessesOf(pn.opts.stateDir), 'pause processes').toEqual([]);
      expectNodeAsItWas(pn.before, pn.state(), { ids, ips: [...ips], netns: pn.podNetns });
    },
    PODS * 3_000 + 120_000,
  );
});
