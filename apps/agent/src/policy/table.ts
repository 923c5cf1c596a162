/**
 * Keeps the node's `inet tscni-policy` table in step with successive compilations: one atomic
 * `nft -f` per change, a full replacement when chains or maps change, only set element
 * deletes/adds when just the peers moved.
 */
import { nftApply, nftJson } from '@tscni/net/netfilter';
import { elementScript, fullScript, structure, FAMILY, TABLE, type Compiled } from './compile';

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
    } else result = { kind: 'full', script: fullScript(next) };
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
  async dropCounters(): Promise<{ chain: string; comment: string; packets: number; bytes: number }[]> {
    let items: Record<string, unknown>[];
    try {
      items = await nftJson(['list', 'table', FAMILY, TABLE], this.netns);
    } catch {
      return [];
    }
    const out: { chain: string; comment: string; packets: number; bytes: number }[] = [];
    for (const i of items) {
      const rule = i.rule as { chain: string; comment?: string; expr: Record<string, { packets: number; bytes: number }>[] } | undefined;
      const counter = rule?.expr.find((e) => 'counter' in e)?.counter;
      if (rule && counter) out.push({ chain: rule.chain, comment: rule.comment ?? '', packets: counter.packets, bytes: counter.bytes });
    }
    return out;
  }
}
