/**
 * Crash consistency of the CRI harness: kill -9 at random points of RunPodSandbox (over our full chain),
 * HARNESS_KILLS times (default 8), each followed by a restart. "Fully up or fully gone" is asserted right
 * after the restart, before the test touches anything: the pod is either listed READY with its whole network
 * (address and routes in its netns, its firewall/portmap rules, its IPAM lease, its libcni cache file) or
 * not listed with nothing of it left (the whole node state as before, no pinned netns, no pause process).
 * Then a READY pod is stopped and removed, and the node must again be exactly as it was.
 *
 * Where each kill landed is read from the sandbox record the dead harness left: a record still "creating"
 * means the kill landed inside RunPodSandbox; the test asserts at least one did and prints the split.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, missingForKernelTests, sh } from '@tscni/testing/node';
import { pauseProcessesOf, recordsIn } from '@tscni/testing/harness-process';
import { expectNodeUnchanged } from '@tscni/testing/node-state';
import { podJson, startPodNode, type PodNode } from '@tscni/testing/cluster';

const KILLS = Number(process.env.HARNESS_KILLS ?? 8);
const CHAIN = ['bridge', 'host-local', 'portmap', 'bandwidth', 'tuning', 'firewall', 'loopback'];
const absent = CHAIN.filter((p) => !existsSync(join(DIST_BIN, p)));
const missing =
  missingForKernelTests(['ip', 'nsenter', 'unshare', 'iptables-save', 'nft', 'tc']) ??
  (absent.length ? `needs ${absent.join(', ')}` : undefined);

const conflist = (dirs: PodNode['dirs']) => ({
  cniVersion: '1.0.0',
  name: 'hcrashnet',
  plugins: [
    {
      type: 'bridge',
      bridge: 'hcrbr0',
      isGateway: true,
      ipMasq: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.69.0.0/24' }]], dataDir: dirs.ipam },
    },
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

describe.skipIf(!!missing)(
  `crash consistency: kill -9 of the harness during RunPodSandbox (${KILLS} kills)${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let pn: PodNode;
    beforeAll(async () => {
      pn = await startPodNode('hcr', Object.fromEntries(CHAIN.map((p) => [p, 'ours'])), conflist);
    });
    afterAll(async () => pn?.teardown());

    interface Rec {
      id: string;
      state: string;
      netns?: string;
      config?: { metadata?: { name?: string } };
    }
    // A save killed before its rename leaves `<id>.json.tmp` (empty if killed before its write) beside the whole
    // record, which the restarted harness removes: only `.json` files are records.
    const records = (): Rec[] =>
      recordsIn(pn.opts.stateDir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => JSON.parse(readFileSync(join(pn.opts.stateDir, 'sandboxes', f), 'utf8')) as Rec);

    /** A READY pod's network, complete: address and subnet route in its netns, its rules, lease and cache file. */
    function expectNetworkComplete(id: string, ip: string, netns: string): void {
      const addrs = (
        JSON.parse(sh('ip', ['-j', 'addr', 'show', 'dev', 'eth0'], { netns })) as { addr_info: { local: string }[] }[]
      ).flatMap((l) => l.addr_info.map((a) => a.local));
      expect(addrs, `address of ${id} in its netns`).toContain(ip);
      expect(sh('ip', ['-j', 'route', 'show', 'dev', 'eth0'], { netns }), 'subnet route').toContain(
        '"dst":"10.69.0.0/24"',
      );
      const rules = sh('iptables-save', [], { netns: pn.node.name });
      expect(rules, 'firewall accept rule').toMatch(
        new RegExp(`-A CNI-FORWARD -s ${ip.replace(/\./g, '\\.')}/32 .*-j ACCEPT`),
      );
      expect(rules, 'portmap DNAT').toContain(`--to-destination ${ip}:80`);
      const tbf = (JSON.parse(sh('tc', ['-j', 'qdisc', 'show'], { netns: pn.node.name })) as { kind: string }[]).filter(
        (q) => q.kind === 'tbf',
      );
      expect(tbf.length, 'bandwidth qdisc').toBeGreaterThan(0);
      expect(readFileSync(join(pn.dirs.ipam, 'hcrashnet', ip), 'utf8'), 'IPAM lease').toContain(id);
      expect(existsSync(join(pn.opts.cacheDir, 'results', `hcrashnet-${id}-eth0`)), 'libcni cache file').toBe(true);
    }

    it(
      `${KILLS} kills at random points of RunPodSandbox, restart: each pod fully up or fully gone`,
      async () => {
        // One full lifecycle first times RunPodSandbox and creates the shared bridge and chains (the baseline).
        const t0 = Date.now();
        const warm = await pn.crictl.runp(pod('warm'));
        const runMs = Date.now() - t0;
        pn.podNetns.push((await pn.crictl.inspectp(warm)).info.netns);
        await pn.crictl.stopp(warm);
        await pn.crictl.rmp(warm);
        pn.before = pn.state();

        const figures = {
          kills: 0,
          insideRunPodSandbox: 0,
          afterItCompleted: 0,
          beforeItStarted: 0,
          readyAfterRestart: 0,
          goneAfterRestart: 0,
          runMs,
          totalMs: 0,
        };
        const started = Date.now();
        for (let i = 0; i < KILLS; i++) {
          const name = `killed-${i}`;
          const pending = pn.crictl.runp(pod(name), { timeoutMs: 30_000 }).catch((e: Error) => e);
          // Delays spread over 1.2× the measured RunPodSandbox, so most kills land inside it.
          await new Promise((r) => setTimeout(r, Math.round(((i + Math.random()) / KILLS) * runMs * 1.2)));
          await pn.harness.kill9();
          figures.kills++;
          await pending;
          // The dead harness's records say where the kill landed.
          const mine = records().filter((r) => r.config?.metadata?.name === name);
          pn.podNetns.push(...mine.map((r) => r.netns).filter((n): n is string => !!n));
          if (mine.some((r) => r.state !== 'ready')) figures.insideRunPodSandbox++;
          else if (mine.length) figures.afterItCompleted++;
          else figures.beforeItStarted++;

          await pn.restart();
          const pods = (await pn.crictl.pods()) as unknown as { id: string; metadata: { name: string } }[];
          expect(pods.length, 'at most the one pod').toBeLessThanOrEqual(1);
          if (pods.length) {
            const { status, info } = await pn.crictl.inspectp(pods[0].id);
            pn.podNetns.push(info.netns);
            expect(status.state, 'a listed pod is READY (fully up)').toBe('SANDBOX_READY');
            expect(status.network.ip).toMatch(/^10\.69\.0\.\d+$/);
            expectNetworkComplete(pods[0].id, status.network.ip, info.netns);
            figures.readyAfterRestart++;
            await pn.crictl.stopp(pods[0].id);
            await pn.crictl.rmp(pods[0].id);
          } else {
            figures.goneAfterRestart++;
          }
          // Not listed (or stopped and removed): nothing of it is left.
          expect(await pn.crictl.pods()).toEqual([]);
          expect(recordsIn(pn.opts.stateDir), 'sandbox records').toEqual([]);
          expect(pauseProcessesOf(pn.opts.stateDir), 'pause processes').toEqual([]);
          expectNodeUnchanged(pn.before, pn.state(), pn.podNetns);
        }
        figures.totalMs = Date.now() - started;
        console.log(`harness-crash figures: ${JSON.stringify(figures)}`);
        expect(figures.insideRunPodSandbox, 'kills that landed inside RunPodSandbox').toBeGreaterThan(0);
      },
      KILLS * 60_000 + 60_000,
    );
  },
);
