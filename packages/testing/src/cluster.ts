/**
 * One simulated Kubernetes node for the lifecycle suites: a TestNode namespace running the CRI harness
 * (with a conflist and a CNI bin dir of our choosing), a crictl-like client, and the node's dirs.
 */
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Crictl } from './crictl';
import { RECORDER } from './fake-plugin';
import { HarnessProcess, harnessDirs, killPauses, type HarnessOptions } from './harness-process';
import { snapshot, type NodeSnapshot } from './node-state';
import { TestNode, binDir, sh } from './test-node';

export type PluginChoice = Record<string, 'ours' | 'reference'>;

export interface PodNode {
  node: TestNode;
  crictl: Crictl;
  harness: HarnessProcess;
  opts: HarnessOptions;
  dirs: { ipam: string; tuning: string; rec: string };
  before: NodeSnapshot;
  /** Every pod netns path seen (for the teardown assertion and for clean-up after a failed test). */
  podNetns: string[];
  restart(): Promise<void>;
  state(): NodeSnapshot;
  teardown(): Promise<void>;
}

/** What a suite may bring to a node: a TestNode it already prepared (its "before" state included in the
 * snapshot), and more directories whose files belong to pods (e.g. a meta plugin's dataDir). */
export interface PodNodeOptions {
  node?: TestNode;
  stateDirs?: string[];
}

/** Build the conflist with `plugins(dirs)`, start the harness, take the "before" snapshot. */
export async function startPodNode(
  tag: string,
  choice: PluginChoice,
  conflist: (dirs: PodNode['dirs']) => Record<string, unknown>,
  options: PodNodeOptions = {},
): Promise<PodNode> {
  const node = options.node ?? new TestNode(tag);
  const dir = (d: string) => {
    mkdirSync(join(node.tmp, d), { recursive: true });
    return join(node.tmp, d);
  };
  const dirs = { ipam: dir('ipam'), tuning: dir('tuning'), rec: dir('rec') };
  const bins = binDir(node.tmp, choice);
  symlinkSync(RECORDER, join(bins, 'recorder'));
  const opts = harnessDirs(node.tmp, [bins]);
  writeFileSync(join(opts.confDir, '10-e2e.conflist'), JSON.stringify(conflist(dirs)));
  node.exec('ip', ['link', 'set', 'lo', 'up']);
  let harness = await HarnessProcess.start(node, opts);
  const stateDirs = [dirs.ipam, dirs.tuning, opts.stateDir, opts.cacheDir, ...(options.stateDirs ?? [])];
  const pn: PodNode = {
    node,
    crictl: new Crictl(opts.socket, 15_000),
    get harness() {
      return harness;
    },
    opts,
    dirs,
    before: snapshot(node, { stateDirs }),
    podNetns: [],
    async restart() {
      harness = await HarnessProcess.start(node, opts);
    },
    state: () => snapshot(node, { stateDirs }),
    async teardown() {
      for (const p of (await pn.crictl.pods().catch(() => [])) ?? [])
        await pn.crictl.rmp((p as unknown as { id: string }).id, true).catch(() => {});
      await harness.stop().catch(() => {});
      killPauses(opts.stateDir);
      for (const ns of pn.podNetns)
        if (existsSync(ns)) sh('ip', ['netns', 'delete', basename(ns)], { allowFail: true });
      node.destroy();
    },
  };
  return pn;
}

/** crictl's pod.json (snake_case keys, integer enums: protocol 0 = TCP, 1 = UDP). */
export function podJson(name: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    metadata: { name, namespace: 'e2e', uid: `uid-${name}`, attempt: 0 },
    hostname: name,
    log_directory: '/tmp',
    dns_config: { servers: ['10.96.0.10'], searches: ['e2e.svc.cluster.local'], options: ['ndots:5'] },
    port_mappings: [],
    labels: { app: name },
    annotations: {},
    linux: {},
    ...extra,
  });
}
