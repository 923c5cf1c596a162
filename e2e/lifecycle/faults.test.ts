import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, missingForKernelTests } from '@tscni/testing/node';
import { expectNodeUnchanged } from '@tscni/testing/node-state';
import { podJson, startPodNode, type PodNode } from '@tscni/testing/cluster';

const CHAIN = ['bridge', 'host-local', 'portmap', 'bandwidth', 'tuning', 'firewall', 'loopback'];
const absent = CHAIN.filter((p) => !existsSync(join(DIST_BIN, p)));
const missing =
  missingForKernelTests(['ip', 'nsenter', 'unshare', 'iptables-save', 'nft', 'tc']) ??
  (absent.length ? `needs ${absent.join(', ')}` : undefined);

/** Our full chain with a fault-injecting plugin last: a file fail-ADD / stall-ADD / fail-DEL in rec arms it. */
const conflist = (dirs: PodNode['dirs']) => ({
  cniVersion: '1.0.0',
  name: 'faultnet',
  plugins: [
    {
      type: 'bridge',
      bridge: 'fltbr0',
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.67.0.0/24' }]], dataDir: dirs.ipam },
    },
    { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    { type: 'bandwidth', capabilities: { bandwidth: true } },
    { type: 'tuning', mtu: 1400, dataDir: dirs.tuning },
    { type: 'firewall' },
    { type: 'recorder', recordDir: dirs.rec },
  ],
});
const withPorts = (name: string) =>
  podJson(name, {
    port_mappings: [{ protocol: 0, container_port: 80, host_port: 19090, host_ip: '' }],
    annotations: { 'kubernetes.io/ingress-bandwidth': '10M', 'kubernetes.io/egress-bandwidth': '10M' },
  });

describe.skipIf(!!missing)(
  `faults over the whole chain (tscni plugins)${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let pn: PodNode;
    beforeAll(async () => {
      pn = await startPodNode('flt', Object.fromEntries(CHAIN.map((p) => [p, 'ours'])), conflist);
      // One full lifecycle first: the bridge and the plugins' shared chains outlive pods, so the whole-state
      // baseline is taken once they exist.
      const warm = await pn.crictl.runp(withPorts('warm'));
      pn.podNetns.push((await pn.crictl.inspectp(warm)).info.netns);
      await pn.crictl.stopp(warm);
      await pn.crictl.rmp(warm);
      pn.before = pn.state();
    });
    afterAll(async () => pn?.teardown());
    const arm = (file: string) => writeFileSync(join(pn.dirs.rec, file), '');
    const disarm = (file: string) => rmSync(join(pn.dirs.rec, file), { force: true });
    /** The whole node state (every rule table, links, addresses, routes, qdiscs, filters, leases, cache) as before. */
    const clean = () => expectNodeUnchanged(pn.before, pn.state(), pn.podNetns);

    it('a plugin that fails ADD: RunPodSandbox fails and everything is rolled back', async () => {
      arm('fail-ADD');
      try {
        await expect(pn.crictl.runp(withPorts('fail-add'))).rejects.toThrow(/ADD failure injected/);
      } finally {
        disarm('fail-ADD');
      }
      expect(await pn.crictl.pods()).toEqual([]);
      clean();
    });

    it('a plugin slower than the client deadline: rolled back', async () => {
      arm('stall-ADD');
      try {
        await expect(pn.crictl.runp(withPorts('slow-add'), { timeoutMs: 1500 })).rejects.toThrow();
        // The harness notices the cancelled call, kills the plugin and runs DEL over the chain.
        await pn.harness.waitForLog((l) => l.msg === 'RunPodSandbox' && l.level === 'error', 30_000);
      } finally {
        disarm('stall-ADD');
      }
      // The rollback finishes after the call has failed; give it time, then hold it to the full assertion.
      const deadline = Date.now() + 30_000;
      while (
        Date.now() < deadline &&
        ((await pn.crictl.pods()).length ||
          pn.state().links.length !== pn.before.links.length ||
          pn.state().iptables.length !== pn.before.iptables.length)
      )
        await new Promise((r) => setTimeout(r, 200));
      expect(await pn.crictl.pods()).toEqual([]);
      clean();
    });

    it('kill -9 of the harness in the middle of RunPodSandbox: after a restart the pod is fully up or fully gone', async () => {
      arm('stall-ADD');
      const pending = pn.crictl.runp(withPorts('killed'), { timeoutMs: 20_000 }).catch((e) => e);
      const deadline = Date.now() + 20_000;
      while (
        !existsSync(join(pn.dirs.rec, 'calls.jsonl')) ||
        (!(await import('node:fs')).readFileSync(join(pn.dirs.rec, 'calls.jsonl'), 'utf8').includes('"uid-killed"') &&
          Date.now() < deadline)
      ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await pn.harness.kill9();
      disarm('stall-ADD');
      expect(await pending).toBeInstanceOf(Error);
      await pn.restart();
      const pods = await pn.crictl.pods();
      for (const p of pods as unknown as { id: string; state: string }[]) {
        const { status, info } = await pn.crictl.inspectp(p.id);
        if (info.netns) pn.podNetns.push(info.netns);
        if (status.state === 'SANDBOX_READY') expect(status.network.ip).toMatch(/^10\.67\.0\.\d+$/);
        await pn.crictl.stopp(p.id);
        await pn.crictl.rmp(p.id);
      }
      expect(await pn.crictl.pods()).toEqual([]);
      clean();
    });

    it('a DEL that fails once: StopPodSandbox returns the error, the retry succeeds', async () => {
      const id = await pn.crictl.runp(withPorts('sticky'));
      const { info } = await pn.crictl.inspectp(id);
      pn.podNetns.push(info.netns);
      arm('fail-DEL');
      try {
        await expect(pn.crictl.stopp(id)).rejects.toThrow(/failed to destroy network/);
      } finally {
        disarm('fail-DEL');
      }
      await pn.crictl.stopp(id);
      await pn.crictl.rmp(id);
      clean();
    });
  },
);
