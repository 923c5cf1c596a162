/**
 * Crash consistency of our full chain (bridge + host-local → portmap → bandwidth → tuning → firewall) run
 * through libcni's CNIConfig inside a TestNode: ADD is aborted CRASH_KILLS times (default 50); libcni SIGKILLs
 * whichever plugin is running at that moment. Half the kills are spread over the ADD's measured duration,
 * the other half land inside each of the later plugins in turn (portmap, bandwidth, tuning, firewall), so
 * each gets its share. After each kill a DEL of the chain (no cached result, as after a crashed runtime call)
 * must leave the node exactly as it was: the whole state is compared (@tscni/testing/node-state), so the
 * firewall's per-address rules, which this DEL without prevResult cannot name by address, are held to it too.
 * The rules lock is machine-wide (/run/lock), so other suites running at the same time slow it down. Prints
 * the figures (kills per plugin, ADDs that completed first) for docs/hardening.md.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CNIConfig,
  confListFromBytes,
  execInNetns,
  type NetworkConfigList,
  type PluginExec,
  type RuntimeConf,
} from '@tscni/libcni';
import { DIST_BIN, TestNode, linksIn, missingForKernelTests } from '@tscni/testing/node';
import { expectNodeUnchanged, snapshot, type NodeSnapshot } from '@tscni/testing/node-state';

const KILLS = Number(process.env.CRASH_KILLS ?? 50);
const CHAIN = ['bridge', 'host-local', 'portmap', 'bandwidth', 'tuning', 'firewall'];
const absent = CHAIN.filter((p) => !existsSync(join(DIST_BIN, p)));
const missing =
  missingForKernelTests(['ip', 'nsenter', 'iptables-save', 'nft', 'tc']) ??
  (absent.length ? `needs ${absent.join(', ')} built` : undefined);

const conflist = (dirs: { ipam: string; tuning: string }) => ({
  cniVersion: '1.0.0',
  name: 'crashnet',
  plugins: [
    {
      type: 'bridge',
      bridge: 'crbr0',
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.68.0.0/24' }]], dataDir: dirs.ipam },
    },
    { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    { type: 'bandwidth', capabilities: { bandwidth: true } },
    { type: 'tuning', mtu: 1400, sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1' }, dataDir: dirs.tuning },
    { type: 'firewall' },
  ],
});
const capabilityArgs = {
  portMappings: [{ hostPort: 19191, containerPort: 80, protocol: 'tcp' }],
  bandwidth: { ingressRate: 10_000_000, ingressBurst: 1_000_000, egressRate: 10_000_000, egressBurst: 1_000_000 },
};

/** Pids of live processes started for `containerID` (a delegated IPAM plugin outlives its killed parent). */
function processesOf(containerID: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes(`CNI_CONTAINERID=${containerID}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function waitForOrphans(containerID: string): Promise<number> {
  const deadline = Date.now() + 30_000;
  let seen = 0;
  for (;;) {
    const left = processesOf(containerID);
    if (!left.length) return seen;
    seen = Math.max(seen, left.length);
    if (Date.now() > deadline) throw new Error(`plugin processes of ${containerID} still running: ${left.join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!!missing)(
  `crash consistency: SIGKILL during ADD of the full chain (${KILLS} kills)${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    let pod: string;
    let list: NetworkConfigList;
    let cni: CNIConfig;
    let stateDirs: string[];
    let before: NodeSnapshot;
    /** The plugin type libcni is running right now (what an abort kills). */
    let running = '';
    /** Called as each plugin starts (the targeted kills arm their timer there). */
    let onStart: (type: string) => void = () => {};

    beforeAll(() => {
      node = new TestNode('cr');
      pod = node.addPod();
      const dir = (d: string) => (mkdirSync(join(node.tmp, d), { recursive: true }), join(node.tmp, d));
      const dirs = { ipam: dir('ipam'), tuning: dir('tuning') };
      const cacheDir = dir('cache');
      stateDirs = [dirs.ipam, dirs.tuning, cacheDir];
      list = confListFromBytes(JSON.stringify(conflist(dirs)));
      const inNode = execInNetns(node.path);
      const tracking: PluginExec = (file, opts) => {
        running = basename(file);
        onStart(running);
        return inNode(file, opts);
      };
      cni = new CNIConfig({ binDirs: [DIST_BIN], cacheDir, exec: tracking, onStderr: () => {} });
    });
    afterAll(() => node?.destroy());

    const rt = (containerID: string): RuntimeConf => ({ containerID, netNS: pod, ifName: 'eth0', capabilityArgs });
    /** The whole node state (every rule table, links, addresses, routes, qdiscs, filters, leases, cache) as before. */
    const expectClean = () => {
      expectNodeUnchanged(before, snapshot(node, { stateDirs }));
      expect(
        linksIn(pod).map((l) => l.ifname),
        'pod links',
      ).toEqual(['lo']);
    };

    it(
      `${KILLS} kills at random points of ADD, each followed by DEL, leave the node as it was`,
      async () => {
        // A full ADD and DEL first: it creates the shared bridge and chains, and times an ADD.
        const t0 = Date.now();
        const warm = rt('crash-warm');
        const starts: [string, number][] = [];
        onStart = (type) => starts.push([type, Date.now()]);
        const result = await cni.addNetworkList(list, warm);
        let addMs = Date.now() - t0;
        // How long each plugin ran (until the next one started): the targeted kills land inside that window.
        const ran = Object.fromEntries(
          starts.map(([type, at], i) => [type, Math.max(5, (starts[i + 1]?.[1] ?? t0 + addMs) - at)]),
        );
        const LATER = ['portmap', 'bandwidth', 'tuning', 'firewall'];
        expect(result.ips).toHaveLength(1);
        await cni.delNetworkList(list, warm);
        before = snapshot(node, { stateDirs });

        const killed: Record<string, number> = {};
        let completed = 0;
        let orphans = 0;
        const started = Date.now();
        let kills = 0;
        for (let i = 0; kills < KILLS && i < 4 * KILLS; i++) {
          const id = `crash-${i}`;
          // Even kills: stratified over the ADD's duration (mostly inside the bridge, the slowest). Odd kills: inside
          // one of the later plugins in turn, at a random point of its measured run, so each gets its share.
          // (A kill that the ADD beats does not count.)
          const ac = new AbortController();
          let timer: NodeJS.Timeout | undefined;
          if (kills % 2 === 0) {
            onStart = () => {};
            timer = setTimeout(() => ac.abort(), Math.round(((kills + Math.random()) / KILLS) * addMs));
          } else {
            const target = LATER[((kills - 1) / 2) % LATER.length];
            onStart = (type) => {
              if (type === target) timer = setTimeout(() => ac.abort(), Math.round(Math.random() * ran[target]));
            };
          }
          const addStarted = Date.now();
          const outcome = await cni.addNetworkList(list, rt(id), ac.signal).then(
            () => 'completed' as const,
            (e: Error) => e,
          );
          clearTimeout(timer);
          onStart = () => {};
          // An ADD that beat its kill re-times the ADD (the warm one, creating the bridge, is the slowest).
          if (outcome === 'completed') {
            completed++;
            addMs = Date.now() - addStarted;
          } else {
            expect(String(outcome.message), `ADD ${i} failed only because it was killed`).toMatch(
              /killed by SIGKILL|aborted/,
            );
            killed[running] = (killed[running] ?? 0) + 1;
            kills++;
          }
          orphans += await waitForOrphans(id);
          await cni.delNetworkList(list, rt(id));
          expectClean();
          if (kills % 10 === 0 && outcome !== 'completed')
            console.log(`crash-chain: ${kills}/${KILLS} kills, ${Math.round((Date.now() - started) / 1000)} s`);
        }
        const figures = {
          kills,
          completedBeforeKill: completed,
          killedWhileRunning: killed,
          orphanedChildrenWaitedFor: orphans,
          addMs,
          totalMs: Date.now() - started,
        };
        console.log(`crash-chain figures: ${JSON.stringify(figures)}`);
        expect(kills).toBe(KILLS);
      },
      KILLS * 30_000 + 60_000,
    );
  },
);
