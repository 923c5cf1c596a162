/**
 * The agent's network policy loop: a watch on the policy prefix (created before the first read),
 * debounced syncs that read the prefix, compile for this node's pods (those in its subnet) and bring
 * the nftables table in step; a full read every 10 s heals anything a lost watch missed.
 */
import type { Watcher } from 'etcd3';
import { Counter, Gauge, type Registry } from 'prom-client';
import { cidrContains, parseIP, type CIDR } from '@tscni/net/host';
import type { Logger } from '../log';
import type { PrefixReader } from '../registry';
import { clusterFromKVs, podIPs } from '@tscni/policy';
import { compile } from './compile';
import { PolicyTable, type ChainCounter, type PolicyCounter } from './table';

const DEBOUNCE_MS = 20;
const RESYNC_MS = 10_000;
const COUNTERS_MS = 1_000;

export class PolicyController {
  readonly table = new PolicyTable();
  private watcher?: Watcher;
  private timer?: NodeJS.Timeout;
  private resync?: NodeJS.Timeout;
  private running?: Promise<void>;
  private dirty = false;
  private stopped = false;
  private reported = new Set<string>();
  private counting = false;
  private counters?: NodeJS.Timeout;
  private drops: { pods: ChainCounter[]; policies: PolicyCounter[] } = { pods: [], policies: [] };

  constructor(
    private readonly etcd: PrefixReader,
    private readonly prefix: string,
    private readonly subnet: CIDR,
    private readonly log: Logger,
    metrics?: Registry,
  ) {
    if (!metrics) return;
    const drops = () => this.drops;
    // collect() stays synchronous (counters read every COUNTERS_MS): an HTTP/1.0 client that half-closes
    // its socket (socat) gets an answer before Node's server closes the connection.
    new Gauge({
      name: 'tscni_agent_policy_dropped_packets',
      help: 'Packets dropped by network policy, per pod and direction (the counter of its chain)',
      labelNames: ['pod', 'direction'],
      registers: [metrics],
      collect() {
        this.reset();
        for (const d of drops().pods) {
          const m = /^(\S+) (ingress|egress) denied$/.exec(d.comment);
          if (m) this.set({ pod: m[1], direction: m[2] }, d.packets);
        }
      },
    });
    new Counter({
      name: 'tscni_agent_policy_drops_total',
      help: 'Packets dropped at the pods a policy isolates (no policy allowed them), per policy and direction; a packet denied at a pod isolated by two policies counts for both',
      labelNames: ['policy', 'direction'],
      registers: [metrics],
      collect() {
        this.reset();
        for (const d of drops().policies) {
          const m = /^(\S+) (ingress|egress)$/.exec(d.comment);
          if (m) this.inc({ policy: m[1], direction: m[2] }, d.packets);
        }
      },
    });
    this.counting = true;
  }

  async start(): Promise<void> {
    const poke = () => this.request();
    this.watcher = await this.etcd.watchPrefix(`${this.prefix}/`, {
      changed: poke,
      connected: poke,
      disconnected: (err) => this.log.warn('policy watch error', { error: err.message }),
    });
    await this.sync();
    this.resync = setInterval(poke, RESYNC_MS);
    if (this.counting) this.counters = setInterval(() => void this.readCounters(), COUNTERS_MS);
  }

  private async readCounters(): Promise<void> {
    this.drops = await this.table.readCounters().catch(() => this.drops);
  }

  private request(delay = DEBOUNCE_MS): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.sync(), delay);
  }

  private async sync(): Promise<void> {
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = this.syncOnce()
      .catch((err: Error) => {
        this.log.warn('policy sync failed, retrying', { error: err.message });
        this.request(1000);
      })
      .finally(() => (this.running = undefined));
    await this.running;
    if (this.dirty) {
      this.dirty = false;
      this.request(0);
    }
  }

  private async syncOnce(): Promise<void> {
    const { cluster, problems } = clusterFromKVs(this.prefix, await this.etcd.listPrefix(`${this.prefix}/`));
    for (const p of problems) if (!this.reported.has(p)) this.log.warn('policy data skipped', { problem: p });
    this.reported = new Set(problems);
    // This node's pods are the ones with an address in its subnet (the harness may name nodes differently
    // from the agent); a dual-stack pod's other addresses come along.
    for (const pod of cluster.pods) {
      const local = podIPs(pod).some((text) => {
        const ip = parseIP(text);
        return ip !== undefined && cidrContains(this.subnet, ip);
      });
      pod.node = local ? 'local' : 'remote';
    }
    const compiled = compile(cluster, 'local');
    const r = await this.table.sync(compiled);
    if (r.kind !== 'none')
      this.log.info('policy table updated', {
        change: r.kind,
        chains: compiled.chains.length,
        sets: compiled.sets.size,
        policies: cluster.policies.length,
      });
  }

  /** Stop watching; with `cleanup` also remove the table (pods then run unfiltered). */
  async stop(cleanup: boolean): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.resync);
    clearInterval(this.counters);
    await this.running;
    await this.watcher?.cancel().catch(() => {});
    if (cleanup) await this.table.remove();
  }
}
