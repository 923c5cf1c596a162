/**
 * The concurrency soak: pod lifecycles (runp → inspectp → stopp → rmp) through one CRI harness on one
 * node, `parallelism` at a time. Counts failures, watches for two live pods sharing an IP, samples the
 * harness's RSS, and ends with the node as it was. Shared by soak.test.ts (small N) and run.mjs (N=1000).
 */
import { readFileSync } from 'node:fs';
import { Crictl } from '@tscni/testing/crictl';
import { podJson, type PodNode } from '@tscni/testing/cluster';

/** The kubelet's default runtime request timeout (2 min): on a loaded 2-core node 16 parallel teardowns can exceed crictl's. */
const KUBELET_TIMEOUT_MS = 120_000;

export interface SoakFigures {
  pods: number;
  parallelism: number;
  completed: number;
  failures: number;
  firstErrors: string[];
  duplicateIPs: string[];
  distinctIPs: number;
  rssStartKiB: number;
  /** Lifecycles done when the warm-up ends: 100, or three quarters of a smaller run. */
  warmupPods: number;
  rssAfterWarmupKiB: number;
  /** RSS at the end minus RSS after the warm-up (what soak.test.ts bounds). */
  rssGrowthAfterWarmupKiB: number;
  rssPeakKiB: number;
  rssEndKiB: number;
  /** RSS after every tenth of the lifecycles: a leak grows linearly, a warming heap levels off. */
  rssSamplesKiB: number[];
  durationMs: number;
  podsPerSecond: number;
}

/** VmRSS of a process in KiB. */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Run `pods` lifecycles, `parallelism` at a time; `onPod` learns every pod's id, IP and netns (for the final assertion). */
export async function soak(
  pn: PodNode,
  pods: number,
  parallelism: number,
  onPod: (p: { id: string; ip: string; netns: string }) => void = () => {},
): Promise<SoakFigures> {
  const pid = pn.harness.pid;
  const rssStartKiB = rssKiB(pid);
  let rssAfterWarmupKiB = 0;
  let rssPeakKiB = rssStartKiB;
  const live = new Map<string, string>();
  const seen = new Set<string>();
  const duplicateIPs: string[] = [];
  const firstErrors: string[] = [];
  const rssSamplesKiB: number[] = [];
  const sampleEvery = Math.max(1, Math.floor(pods / 10));
  const warmupPods = warmupPoint(pods);
  let failures = 0;
  let completed = 0;
  let next = 0;
  const started = Date.now();
  const crictl = new Crictl(pn.opts.socket, KUBELET_TIMEOUT_MS);

  const lifecycle = async (i: number) => {
    const name = `soak-${i}`;
    let id = '';
    try {
      id = await crictl.runp(podJson(name), { timeoutMs: KUBELET_TIMEOUT_MS / 2 });
      const { status, info } = await crictl.inspectp(id);
      const ip = status.network?.ip as string;
      onPod({ id, ip, netns: info.netns });
      if (status.state !== 'SANDBOX_READY' || !ip) throw new Error(`pod ${name} not ready: ${status.state} ${ip}`);
      if (live.has(ip)) duplicateIPs.push(`${ip}: ${live.get(ip)} and ${name}`);
      live.set(ip, name);
      seen.add(ip);
      await crictl.stopp(id);
      live.delete(ip);
      await crictl.rmp(id);
      completed++;
    } catch (e) {
      failures++;
      if (firstErrors.length < 5) firstErrors.push(`${name}: ${(e as Error).message}`);
      if (id) await crictl.rmp(id, true).catch(() => {});
    }
    rssPeakKiB = Math.max(rssPeakKiB, rssKiB(pid));
    const done = completed + failures;
    if (done === warmupPods) rssAfterWarmupKiB = rssKiB(pid);
    if (done % sampleEvery === 0) rssSamplesKiB.push(rssKiB(pid));
  };
  const worker = async () => {
    while (next < pods) await lifecycle(next++);
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, pods) }, worker));
  const durationMs = Date.now() - started;
  const rssEndKiB = rssKiB(pid);
  return {
    pods,
    parallelism,
    completed,
    failures,
    firstErrors,
    duplicateIPs,
    distinctIPs: seen.size,
    rssStartKiB,
    warmupPods,
    rssAfterWarmupKiB,
    rssGrowthAfterWarmupKiB: rssEndKiB - rssAfterWarmupKiB,
    rssPeakKiB,
    rssEndKiB,
    rssSamplesKiB,
    durationMs,
    podsPerSecond: Math.round((pods / durationMs) * 1000 * 100) / 100,
  };
}

/** Where the harness's heap has levelled off: pod 100 (the manual 1,000-pod run), or ¾ of a smaller run. */
export const warmupPoint = (pods: number): number => Math.min(100, Math.floor((pods * 3) / 4));
