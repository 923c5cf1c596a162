import type { Family, RouteInfo } from '@tscni/net/host';
import { ipJson } from '@tscni/net/host/ip';
import { parseIP } from '@tscni/net/host/ipaddr';
import type { FamilyRoute } from '@tscni/net/pod';

/** A policy rule as `ip -j rule show` prints it. */
export interface RuleInfo {
  priority: number;
  src: string;
  srclen?: number;
  table: string;
}

const NAMED_TABLES: Record<string, number> = { local: 255, main: 254, default: 253 };
export const tableId = (t: string | undefined): number => (t === undefined ? 254 : (NAMED_TABLES[t] ?? Number(t)));
export const FIRST_TABLE = 100;

export const listRules = (family: Family, netns: string): Promise<RuleInfo[]> =>
  ipJson<RuleInfo[]>([`-${family}`, 'rule', 'show'], netns);

export async function listAllRoutes(netns: string): Promise<FamilyRoute[]> {
  const [v4, v6] = await Promise.all(
    ([4, 6] as const).map((f) =>
      ipJson<RouteInfo[]>([`-${f}`, 'route', 'show', 'table', 'all'], netns).then((rs) =>
        rs.map((r) => ({ ...r, family: f })),
      ),
    ),
  );
  return [...v4, ...v6];
}

/** Tables some rule or route already uses: sbr takes the first one from 100 that neither does. */
export function usedTables(rules: RuleInfo[], routes: FamilyRoute[]): Set<number> {
  return new Set([...rules.map((r) => tableId(r.table)), ...routes.map((r) => tableId(r.table))]);
}

export function nextFreeTable(used: Set<number>, from: number): number {
  let t = from;
  while (used.has(t)) t++;
  return t;
}

/** Does a rule's source select exactly this address (`from <ip>/32` or `/128`)? */
export function ruleFromAddress(rule: RuleInfo, address: string): boolean {
  const a = parseIP(address);
  const s = parseIP(rule.src);
  if (!a || !s || a.family !== s.family || a.value !== s.value) return false;
  return rule.srclen === undefined || rule.srclen === (a.family === 4 ? 32 : 128);
}
