/**
 * Keeps the node's `inet tscni-policy` table in step with successive compilations: one atomic
 * `nft -f` per change, a full replacement when chains or maps change, only set element
 * deletes/adds when just the peers moved.
 */
import { nftApply, nftJson } from '@tscni/net/netfilter';
import { elementScript, fullScript, structure, FAMILY, TABLE, type Compiled, type CounterValue } from './compile';

export interface ChainCounter extends CounterValue {
  chain: string;
  comment: string;
}
/** A policy's named counter: `comment` is `<ns>/<policy> <ingress|egress>`. */
export interface PolicyCounter extends CounterValue {
  name: string;
  comment: string;
}

export interface SyncResult {
  kind: 'none' | 'elements' | 'full';
  script: string;
}

export class PolicyTable {
  private last?: Compiled;
  private lastStructure?: string;

  constructor(private readonly netns?: string) {}

  async sync(next: Compiled): Promise<SyncResult> {
    const shape = structure(next);
    let result: SyncResult;
    if (this.last && shape === this.lastStructure) {
      const script = elementScript(this.last, next);
      result = { kind: script ? 'elements' : 'none', script };
    } else {
      // A replaced table would restart the per-policy counters: the new one starts where they stood.
      const carried = new Map((await this.readCounters()).policies.map((c) => [c.name, c] as const));
      result = { kind: 'full', script: fullScript(next, carried) };
    }
    if (result.script) {
      try {
        await nftApply(result.script, this.netns);
      } catch (err) {
        // Unknown kernel state now: the next sync rewrites the whole table.
        this.last = this.lastStructure = undefined;
        throw err;
      }
    }
    this.last = next;
    this.lastStructure = shape;
    return result;
  }

  /** Removes the table (idempotent). */
  async remove(): Promise<void> {
    await nftApply(`table ${FAMILY} ${TABLE} {}\ndelete table ${FAMILY} ${TABLE}\n`, this.netns);
    this.last = this.lastStructure = undefined;
  }

  /** Packets dropped per pod chain (the `counter drop` at the end of each chain). */
  async dropCounters(): Promise<ChainCounter[]> {
    return (await this.readCounters()).pods;
  }

  /** Both kinds of drop counters in one read: per pod chain, and per policy and direction (named counters). */
  async readCounters(): Promise<{ pods: ChainCounter[]; policies: PolicyCounter[] }> {
    let items: Record<string, unknown>[];
    try {
      items = await nftJson(['list', 'table', FAMILY, TABLE], this.netns);
    } catch {
      return { pods: [], policies: [] };
    }
    const pods: ChainCounter[] = [];
    const policies: PolicyCounter[] = [];
    for (const i of items) {
      const named = i.counter as { name: string; comment?: string; packets: number; bytes: number } | undefined;
      if (named)
        policies.push({ name: named.name, comment: named.comment ?? '', packets: named.packets, bytes: named.bytes });
      const rule = i.rule as { chain: string; comment?: string; expr: Record<string, unknown>[] } | undefined;
      // The anonymous counter (an object with packets), not the `counter name "c_…"` references.
      const counter = rule?.expr
        .map((e) => e.counter)
        .find((c): c is CounterValue => typeof c === 'object' && c !== null && 'packets' in c);
      if (rule && counter)
        pods.push({ chain: rule.chain, comment: rule.comment ?? '', packets: counter.packets, bytes: counter.bytes });
    }
    return { pods, policies };
  }
}
